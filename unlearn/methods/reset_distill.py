"""`reset_distill`: reset the first and last layers, distil the original back in
(Euclid team, NeurIPS 2023 unlearning competition, private leaderboard #7).

Source: the team's Kaggle notebook
(https://www.kaggle.com/code/stathiskaripidis/unlearning-by-resetting-layers-7th-on-private-lb)
as ported by the Deep Unlearn benchmark, https://github.com/xcadet/deepunlearn,
munl/unlearning/kgltop6.py (commit 6830ff6e5fd72f4793890ee31904814892625acf).
1. Teacher = the original (frozen, eval mode). In the student, `conv1` and `fc` are
   re-initialised with their modules' reset_parameters() (PyTorch's default init).
2. Warm-up: `warmup_epochs` (3) epochs of KL_T(teacher ‖ student) at T = 5 (batch mean,
   no T² factor) on the validation split — held-out data, their choice — SGD lr 9e-4,
   momentum 0.9, wd 5e-4, batch 64, student in train mode.
3. `epochs` (their 3) epochs on D_r of
       CE(student, y) + SoftCE_T(teacher, student) + KL_T(teacher ‖ student),
   SGD lr 1e-3, momentum 0.9, wd 5e-4, CosineAnnealingLR(T_max = epochs) stepped per
   epoch, batch 64. SoftCE_T = −Σ p_t log p_s = H(p_t) + KL_T, and H(p_t) is a constant,
   so the loss is CE + 2·KL_T up to a constant: `kl_weight` = 2 reproduces the code
   (the summary "CE + KL_T" is kl_weight = 1).

`distill_split`: `val` (theirs; here the model-selection split, `data.selection_split`)
or `retain` (warm up on D_r instead, for a run that touches no held-out data).
`reset_layers`: names of the Conv2d/Linear modules to reset (theirs: conv1, fc).

Defaults: theirs, except the D_r epochs: 3 → 1 (÷3; the cosine then never lowers the lr)
to keep a run near the cost of the study's other gradient methods on this project's CPU
budget (bench/methods.py gives the measured ratio to finetune); the warm-up keeps its 3
epochs (the validation split is small). The reset draws from ctx.generator (on a CPU
copy of each layer); the teacher's logits are computed once per split (eval mode, no
augmentation: they never change). Batches: near-equal sizes (unlearn/training/loops.py).
"""
import copy
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearn.core.checks import at_least, non_negative, positive
from unlearn.core.config import config, inherit, param
from unlearn.methods import register
from unlearn.training.loops import SGDConfig, forked_seed, loss_epoch
from unlearn.training.model import module_names
from unlearn.training.train import sgd
from unlearn.unlearning.distill import cached_teacher_logits, kl_loss


@torch.no_grad()
def reset_layers(model, names, generator):
    """reset_parameters() of each named module, seeded from `generator`, drawn on the CPU."""
    modules = dict(model.named_modules())
    for name in names:
        layer = modules[name]
        fresh = copy.deepcopy(layer).cpu()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(forked_seed(generator))
            fresh.reset_parameters()
        for p, q in zip(layer.parameters(), fresh.parameters()):
            p.copy_(q.to(device=p.device, dtype=p.dtype))


def kl_t(student_logits, teacher_logits, temperature):
    """Their kl_loss: KL(teacher ‖ student) at T, batch mean, no T²."""
    return kl_loss(student_logits, teacher_logits, temperature, reduction="batchmean")


@config
class ResetDistillConfig(SGDConfig):
    # lr, momentum, weight decay of the D_r epochs (1e-3, 0.9, 5e-4): theirs
    lr: float = inherit(1e-3, "SGD learning rate of the D_r epochs, cosine over them; "
                        "theirs 1e-3")
    epochs: int = param(1, "epochs on D_r; theirs 3 (÷3; the cosine then never lowers the lr)",
                        at_least(0))
    batch_size: int = inherit(64, "images per step, warm-up and D_r; theirs 64")
    reset_layers: list[str] = param(["conv1", "fc"], "Conv2d/Linear modules re-initialised "
                                    "(reset_parameters); theirs conv1, fc",
                                    module_names(nn.Conv2d, nn.Linear))
    distill_split: Literal["val", "retain"] = param(
        "val", "warm-up data: val (theirs: the held-out selection split) or retain")
    temperature: float = param(5.0, "T of the KL terms; theirs 5", positive)
    warmup_epochs: int = param(3, "epochs of KL_T on distill_split; theirs 3", at_least(0))
    warmup_lr: float = param(9e-4, "warm-up SGD learning rate; theirs 9e-4", positive)
    warmup_momentum: float = param(0.9, "warm-up SGD momentum; theirs 0.9", non_negative)
    warmup_weight_decay: float = param(5e-4, "warm-up SGD weight decay; theirs 5e-4",
                                       non_negative)
    kl_weight: float = param(2.0, "weight of KL_T on D_r; theirs 2 (CE + softCE + KL = "
                             "CE + 2·KL + const)", non_negative)


@register("reset_distill", ResetDistillConfig)
def reset_distill(model, ctx, cfg):
    t = cfg.temperature
    warm_split = ctx.val if cfg.distill_split == "val" else ctx.retain
    # The student still holds the original weights: its eval-mode logits are the teacher's.
    teacher_warm = cached_teacher_logits(model, warm_split.images, ctx.device)
    teacher_retain = cached_teacher_logits(model, ctx.retain.images, ctx.device)
    reset_layers(model, cfg.reset_layers, ctx.generator)
    common = dict(batch_size=cfg.batch_size, generator=ctx.generator, device=ctx.device)

    warm = sgd(model.parameters(), lr=cfg.warmup_lr, momentum=cfg.warmup_momentum,
               weight_decay=cfg.warmup_weight_decay)
    for _ in range(cfg.warmup_epochs):
        loss_epoch(model, warm_split, warm,
                   lambda z, y, i: kl_t(z, teacher_warm[i.to(ctx.device)], t), **common)

    opt = sgd(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
              weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))

    def retain_loss(z, y, i):
        teacher = teacher_retain[i.to(ctx.device)]
        return F.cross_entropy(z, y) + cfg.kl_weight * kl_t(z, teacher, t)

    for _ in range(cfg.epochs):
        loss_epoch(model, ctx.retain, opt, retain_loss, **common)
        sched.step()
    return model
