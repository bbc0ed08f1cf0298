"""`scrub`: SCalable Remembering and Unlearning unBound (Kurmanji et al., NeurIPS 2023;
docs/methods.md#scrub).

Source: the paper, https://arxiv.org/abs/2302.09880, and its code,
https://github.com/meghdadk/SCRUB (large_scale_unlearning.ipynb, small-scale notebooks;
commit not recorded), built on RepDistiller (`DistillKL`, `train_distill`,
`adjust_learning_rate`, vendored there under thirdparty/repdistiller).

Update, teacher = frozen original, student starts as the original, one optimiser shared
by both kinds of step. For epoch e = 1 … epochs:
    if e ≤ msteps: one pass over D_f, each batch  θ ← θ − η ∇(−d(x))        (max step)
    one pass over D_r, each batch  θ ← θ − η ∇(γ·CE(s(x), y) + α·d(x))      (min step)
with d = DistillKL = Σ_i KL(softmax(t_i/T) ‖ softmax(s_i/T)) · T² / B (direction: the
paper's KL(teacher ‖ student); code F.kl_div(log_softmax(s/T), softmax(t/T), "sum")).

Learning rate: RepDistiller's rule, epochs counted from 1: before epoch e the lr is set
to lr · decay_rate^(number of milestones m with e > m). So a milestone m first lowers
the lr in epoch m + 1. With the large-scale setting (3 epochs, milestones 3, 5, 9) the
lr never decays; with the small-scale one (10 epochs, milestones 5, 8, 9) epochs 1–5
use lr, 6–8 lr/10, 9 lr/100, 10 lr/1000.

Defaults (ScrubConfig) = the authors' large-scale setting: SGD lr 5e-4 momentum 0.9,
wd 5e-4, 3 epochs, msteps 2, T 4, γ 0.99, α 0.001, milestones [3, 5, 9], retain batch
128, forget batch 32 (the notebook's arguments; its loaders use 256 and 512, see
docs/methods.md#scrub). The small-scale setting, as params:

    unlearn:
      scrub: {optimizer: adam, lr: 0.0005, weight_decay: 0.1, epochs: 10, msteps: 3,
              temperature: 2.0, gamma: 1.0, alpha: 0.5, milestones: [5, 8, 9]}

The student is in train mode for both steps (RepDistiller's train_distill), the teacher
in eval mode. The study did not run SCRUB; the authors' large-scale values are the defaults.

Departures from the source, and why:
- Teacher logits are computed once for D_f and D_r and reused every epoch: the teacher
  is frozen, in eval mode, and the data is not augmented, so they never change (the
  source recomputes them per batch).
- The SGDA smoothing term (param_dist · smoothing, smoothing = 0) and the SWA model
  (updated only from epoch sstart = 10 > epochs, and never returned) have no effect
  in the authors' settings and are left out. Gradient clipping is commented out in
  the source and absent here.
"""
from typing import Literal

import torch.nn.functional as F

from unlearn.core.checks import at_least, non_negative, positive
from unlearn.core.config import config, inherit, param
from unlearn.methods import register
from unlearn.training.optim import EpochConfig, optimizer_for
from unlearn.training.train import batch, batch_indices, run_epoch
from unlearn.unlearning.distill import cached_teacher_logits, distill_kl


def epoch_lr(epoch, base_lr, milestones, decay_rate):
    """RepDistiller's adjust_learning_rate for a 1-based epoch."""
    return base_lr * decay_rate ** sum(1 for m in milestones if epoch > m)


def min_loss(student_logits, labels, teacher_logits, temperature, gamma, alpha):
    """The min step's objective: γ·CE + α·DistillKL."""
    return (gamma * F.cross_entropy(student_logits, labels)
            + alpha * distill_kl(student_logits, teacher_logits, temperature))


def max_pass(model, split, teacher_logits, opt, ctx, batch_size, temperature):
    """One pass over D_f maximising DistillKL (descending on its negative).

    Returns the mean KL over batches (before each step), for logging and tests."""
    kls = []

    def step_loss(index):
        x, _ = batch(split, index, ctx.device)
        kl = distill_kl(model(x), teacher_logits[index.to(ctx.device)], temperature)
        kls.append(kl.detach())
        return -kl

    run_epoch(model, opt, batch_indices(len(split), batch_size, ctx.generator), step_loss)
    return _mean(kls)


def min_pass(model, split, teacher_logits, opt, ctx, cfg):
    """One pass over D_r minimising γ·CE + α·DistillKL. Returns the mean loss."""
    losses = []

    def step_loss(index):
        x, y = batch(split, index, ctx.device)
        loss = min_loss(model(x), y, teacher_logits[index.to(ctx.device)],
                        cfg.temperature, cfg.gamma, cfg.alpha)
        losses.append(loss.detach())
        return loss

    run_epoch(model, opt, batch_indices(len(split), cfg.batch_size, ctx.generator), step_loss)
    return _mean(losses)


def _mean(values):
    """Mean of scalar tensors as a Python float, summed in order (one host sync, at the end)."""
    total = 0.0
    for v in values:
        total += v.item()
    return total / max(len(values), 1)


@config
class ScrubConfig(EpochConfig):
    # defaults: Kurmanji et al.'s large-scale setting (the study did not run SCRUB)
    optimizer: Literal["adam", "sgd"] = inherit("sgd", "adam or sgd (large-scale sgd; "
                                                "small-scale adam)")
    lr: float = inherit(5e-4, "learning rate before decay (both settings 5e-4)")
    weight_decay: float = inherit(5e-4, "the optimiser's L2 penalty (large-scale 5e-4; "
                                  "small-scale 0.1)")
    momentum: float = inherit(0.9, "SGD momentum (large-scale 0.9)")
    epochs: int = inherit(3, "epochs, each a min pass over D_r (large-scale 3; small-scale 10)")
    batch_size: int = inherit(128, "retain batch (large-scale arguments 128; its loader 256)")
    msteps: int = param(2, "max passes over D_f in the first msteps epochs (large-scale 2; "
                        "small-scale 3)", at_least(0))
    temperature: float = param(4.0, "T of DistillKL (large-scale 4; small-scale 2)", positive)
    gamma: float = param(0.99, "γ, weight of the min step's CE (large-scale 0.99; "
                         "small-scale 1)", non_negative)
    alpha: float = param(0.001, "α, weight of the min step's DistillKL (large-scale 0.001; "
                         "small-scale 0.5)", non_negative)
    milestones: list[int] = param([3, 5, 9], "lr × decay_rate once per milestone m with "
                                  "epoch > m (large-scale [3, 5, 9]; small-scale [5, 8, 9])")
    decay_rate: float = param(0.1, "lr factor per passed milestone (both settings 0.1)",
                              non_negative)
    forget_batch_size: int = param(32, "forget batch of the max step (large-scale arguments "
                                   "32; its loader 512)", at_least(1))


@register("scrub", ScrubConfig)
def scrub(model, ctx, cfg):
    # The student still holds the original weights: its eval-mode logits are the
    # teacher's, computed once (see the docstring), so no teacher copy is kept.
    t_forget = cached_teacher_logits(model, ctx.forget.images, ctx.device)
    t_retain = cached_teacher_logits(model, ctx.retain.images, ctx.device)
    opt = optimizer_for(model.parameters(), cfg)
    for epoch in range(1, cfg.epochs + 1):
        lr = epoch_lr(epoch, cfg.lr, cfg.milestones, cfg.decay_rate)
        for group in opt.param_groups:
            group["lr"] = lr
        if epoch <= cfg.msteps:
            max_pass(model, ctx.forget, t_forget, opt, ctx, cfg.forget_batch_size,
                     cfg.temperature)
        min_pass(model, ctx.retain, t_retain, opt, ctx, cfg)
    return model
