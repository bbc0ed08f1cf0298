"""`gisa`: Gradient-Informed Synaptic Adjustment, the COMP540 study's own method
(docs/methods.md#gisa).

Source: the study's report (Rice COMP540, December 2023; title, authors and URL not recorded,
docs/study.md#source); its code is not available, so this follows the report's formulas
exactly.
1. I_f, I_r: importances on D_f and D_r, as in SSD (unlearn.unlearning.importance).
2. One optimiser parameter group per parameter tensor i, with learning rate
       η_i = η_base · (1 + mean_elements( max( log( I_f,i / (I_r,i + ε) ), 0 ) ))
3. On paired retain/forget batches (forget iterator restarting, as in neggrad):
       JointLoss = RetainLoss² / (ForgetLoss + ε),  RetainLoss, ForgetLoss = batch-mean CE,
   θ_i ← θ_i − η_i ∇JointLoss (through the optimiser; study: Adam, base 1e-4, wd 5e-3,
   1 epoch; batch 64 as MUFAC — the study states no batch size).

Note: the report's prose says the learning rate of forget-critical weights is "dampened",
but max(log(·), 0) ≥ 0 makes the factor ≥ 1 — tensors important to D_f relative to D_r
get a *larger* step. We implement the formula, not the prose.

ε (the study gives no value): `eps`, default 1e-8, used in both places. In the ratio it keeps
I_f / (I_r + ε) finite where I_r = 0; where I_f = 0, log(0) = −inf and max(−inf, 0) = 0,
so such elements add nothing (no NaN arises as long as ε > 0). In the loss it keeps the
quotient finite as the forget loss approaches 0.

Departures/choices: importances are per-example by default (`importance: batch` gives
Foster et al.'s batch-mean form); training runs in train mode (BatchNorm batch statistics),
as the study's other gradient methods; forget batches have the retain batch size; Adam's
weight decay is the usual L2 term added to the gradient, in every group.
"""
from typing import Literal

import torch

from unlearn.core.checks import at_least, positive
from unlearn.core.config import config, inherit, param
from unlearn.methods import register
from unlearn.training.augment import Augment
from unlearn.training.optim import EpochConfig, optimizer_for
from unlearn.training.train import paired_batches, paired_ces, run_epoch
from unlearn.unlearning.importance import importances


@config
class GISAConfig(EpochConfig):
    # optimiser and budget: the study's; batch 64 is MUFAC's, the study states none
    optimizer: Literal["adam", "sgd"] = inherit("adam", "adam or sgd (study adam)")
    lr: float = inherit(1e-4, "η_base, scaled per tensor by the importance ratio (study 1e-4)")
    weight_decay: float = inherit(5e-3, "the optimiser's L2 penalty, in every group "
                                  "(study 5e-3)")
    epochs: int = inherit(1, "passes over the retain set (study 1)")
    batch_size: int = inherit(64, "images per step, both sets (study: not stated; MUFAC's)")
    eps: float = param(1e-8, "ε in the ratio I_f / (I_r + ε) and the loss denominator "
                       "(study: not stated)", positive)    # keeps the log and division finite
    importance: Literal["per_example", "batch"] = param(    # importance.FORMS
        "per_example", "per_example, or batch = Foster et al.'s batch-mean form "
        "(study: not stated)")
    chunk_size: int = param(64, "examples per forward pass of the per_example form; memory "
                            "only, never changes the result", at_least(1))
    augment: Augment = param("none", "augmentation of both batches")


@register("gisa", GISAConfig)
def gisa(model, ctx, cfg):
    imp = {split_name: importances(model, split, ctx.device, form=cfg.importance,
                                   batch_size=cfg.batch_size, chunk_size=cfg.chunk_size,
                                   generator=ctx.generator)
           for split_name, split in (("forget", ctx.forget), ("retain", ctx.retain))}
    rates = learning_rates(imp["forget"], imp["retain"], cfg.lr, cfg.eps)
    groups = [{"params": [p], "lr": rates[name], "name": name}
              for name, p in model.named_parameters() if name in rates]  # frozen: not trained
    opt = optimizer_for(groups, cfg)    # each group's lr overrides cfg.lr

    def step_loss(pair):
        return joint_loss(*paired_ces(model, ctx.retain, ctx.forget, pair, ctx.device,
                                      cfg.augment, ctx.generator), cfg.eps)

    for _ in range(cfg.epochs):
        run_epoch(model, opt, paired_batches(len(ctx.retain), len(ctx.forget), cfg.batch_size,
                                             ctx.generator), step_loss)
    return model


def learning_rates(i_f, i_r, base_lr, eps):
    """Per-tensor η_i = base · (1 + mean(max(log(I_f / (I_r + ε)), 0))) as Python floats."""
    rates = {}
    for name, f in i_f.items():
        ratio = f / (i_r[name] + eps)           # ≥ 0 and finite for ε > 0
        gain = torch.log(ratio).clamp(min=0.0)  # log 0 = −inf → 0
        rates[name] = base_lr * (1.0 + gain.double().mean().item())
    return rates


def joint_loss(retain_loss, forget_loss, eps):
    """JointLoss = RetainLoss² / (ForgetLoss + ε)."""
    return retain_loss.square() / (forget_loss + eps)
