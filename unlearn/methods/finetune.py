"""`finetune`: keep training on the retain set only, with cross-entropy
(docs/methods.md#finetune).

Update: θ ← θ − η ∇ CE(θ; D_r), for `epochs` passes over D_r.
Source: the NeurIPS 2023 unlearning competition's baseline
(https://www.kaggle.com/competitions/neurips-2023-machine-unlearning; its starting kit is
https://github.com/unlearning-challenge/starting-kit, commit not recorded). The defaults
(FinetuneConfig) are the study's; each key's note gives the competition baseline's value, as
the study summarises it, to override with.

`cosine: true` is the starting kit's CosineAnnealingLR(T_max = epochs), stepped once per
epoch: epoch e (0-based) runs at lr·(1 + cos(π·e/epochs))/2, so a 1-epoch run is plain
constant-lr fine-tuning, exactly as in the kit.
"""
from typing import Literal

import torch

from unlearn.core.config import config, inherit, param
from unlearn.methods import register
from unlearn.training.augment import Augment
from unlearn.training.optim import EpochConfig, optimizer_for
from unlearn.training.train import train_epoch


@config
class FinetuneConfig(EpochConfig):
    # defaults: the study's; notes: the competition baseline as the study summarises it
    optimizer: Literal["adam", "sgd"] = inherit("adam", "adam or sgd (study adam; "
                                                "competition baseline sgd)")
    lr: float = inherit(1e-4, "learning rate (study 1e-4; competition baseline 1e-3)")
    weight_decay: float = inherit(5e-3, "the optimiser's L2 penalty (study 5e-3; competition "
                                  "baseline 5e-4)")
    momentum: float = inherit(0.0, "SGD momentum, unused by adam (competition baseline 0.9)")
    epochs: int = inherit(1, "passes over the retain set (study 1; competition baseline 1)")
    batch_size: int = inherit(64, "images per step (study: not stated; MUFAC's 64)")
    cosine: bool = param(False, "cosine lr over the epochs, stepped per epoch (competition "
                         "baseline true)")
    augment: Augment = param("none", "augmentation of the retain batches")


@register("finetune", FinetuneConfig)
def finetune(model, ctx, cfg):
    opt = optimizer_for(model.parameters(), cfg)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
             if cfg.cosine else None)
    for epoch in range(cfg.epochs):
        train_epoch(model, ctx.retain, opt, batch_size=cfg.batch_size,
                    generator=ctx.generator, device=ctx.device, augment=cfg.augment,
                    desc=f"finetune epoch {epoch + 1}")
        if sched is not None:
            sched.step()
    return model
