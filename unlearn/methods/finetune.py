"""`finetune`: keep training on the retain set only, with cross-entropy
(docs/methods.md#finetune).

Update: θ ← θ − η ∇ CE(θ; D_r), for `epochs` passes over D_r.
Source: the NeurIPS 2023 unlearning competition's baseline
(https://www.kaggle.com/competitions/neurips-2023-machine-unlearning; its starting kit is
https://github.com/unlearning-challenge/starting-kit, commit not recorded). Defaults are the
study's (Adam lr 1e-4, weight decay 5e-3, 1 epoch, batch 64). The competition baseline used
SGD lr 1e-3, momentum 0.9, wd 5e-4 with a cosine schedule: set optimizer: sgd,
lr: 0.001, momentum: 0.9, weight_decay: 5e-4, cosine: true.

`cosine: true` is the starting kit's CosineAnnealingLR(T_max = epochs), stepped once per
epoch: epoch e (0-based) runs at lr·(1 + cos(π·e/epochs))/2, so a 1-epoch run is plain
constant-lr fine-tuning, exactly as in the kit.
"""
import torch

from unlearn.methods import register
from unlearn.training.augment import AUGMENTATIONS
from unlearn.unlearning.checks import at_least, non_negative, one_of, positive
from unlearn.training.train import make_optimizer, train_epoch


@register("finetune", optimizer="adam", lr=1e-4, weight_decay=5e-3, momentum=0.0,
          epochs=1, batch_size=64, cosine=False, augment="none",
          checks={"optimizer": one_of("adam", "sgd"), "lr": positive,
                  "weight_decay": non_negative, "momentum": non_negative,
                  "epochs": at_least(1), "batch_size": at_least(1),
                  "augment": one_of(*AUGMENTATIONS)})
def finetune(model, ctx, cfg):
    opt = make_optimizer(model.parameters(), cfg["optimizer"], cfg["lr"],
                         cfg["weight_decay"], cfg["momentum"])
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"])
             if cfg["cosine"] else None)
    for epoch in range(cfg["epochs"]):
        train_epoch(model, ctx.retain, opt, batch_size=cfg["batch_size"],
                    generator=ctx.generator, device=ctx.device, augment=cfg["augment"],
                    desc=f"finetune epoch {epoch + 1}")
        if sched is not None:
            sched.step()
    return model
