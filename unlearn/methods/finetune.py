"""`finetune`: keep training on the retain set only, with cross-entropy (SPEC §3.1).

Update: θ ← θ − η ∇ CE(θ; D_r), for `epochs` passes over D_r.
Source: the NeurIPS 2023 unlearning competition's baseline. Defaults are the study's
(Adam lr 1e-4, weight decay 5e-3, 1 epoch, batch 64). The competition baseline used
SGD lr 1e-3, momentum 0.9, wd 5e-4 with a cosine schedule: set optimizer: sgd,
lr: 0.001, momentum: 0.9, weight_decay: 5e-4, cosine: true.
"""
import torch

from . import register
from ..train import make_optimizer, train_epoch


@register("finetune", optimizer="adam", lr=1e-4, weight_decay=5e-3, momentum=0.0,
          epochs=1, batch_size=64, cosine=False, augment="none")
def finetune(model, ctx, cfg):
    opt = make_optimizer(model.parameters(), cfg["optimizer"], cfg["lr"],
                         cfg["weight_decay"], cfg["momentum"])
    steps = cfg["epochs"] * -(-len(ctx.retain) // cfg["batch_size"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cfg["cosine"] else None
    for epoch in range(cfg["epochs"]):
        train_epoch(model, ctx.retain, opt, batch_size=cfg["batch_size"],
                    generator=ctx.generator, device=ctx.device, augment=cfg["augment"],
                    desc=f"finetune epoch {epoch + 1}", step_scheduler=sched)
    return model
