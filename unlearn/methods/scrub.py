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

Defaults = the authors' large-scale setting: SGD lr 5e-4 momentum 0.9,
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
import torch.nn.functional as F

from unlearn.methods import register
from unlearn.unlearning.distill import cached_teacher_logits, distill_kl
from unlearn.training.train import batch, batch_indices, make_optimizer
from unlearn.unlearning.checks import at_least, non_negative, one_of, positive


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
    model.train()
    total, n = 0.0, 0
    for index in batch_indices(len(split), batch_size, ctx.generator):
        x, _ = batch(split, index, ctx.device)
        kl = distill_kl(model(x), teacher_logits[index.to(ctx.device)], temperature)
        opt.zero_grad(set_to_none=True)
        (-kl).backward()
        opt.step()
        total, n = total + kl.item(), n + 1
    return total / max(n, 1)


def min_pass(model, split, teacher_logits, opt, ctx, cfg):
    """One pass over D_r minimising γ·CE + α·DistillKL. Returns the mean loss."""
    model.train()
    total, n = 0.0, 0
    for index in batch_indices(len(split), cfg["batch_size"], ctx.generator):
        x, y = batch(split, index, ctx.device)
        loss = min_loss(model(x), y, teacher_logits[index.to(ctx.device)],
                        cfg["temperature"], cfg["gamma"], cfg["alpha"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total, n = total + loss.item(), n + 1
    return total / max(n, 1)


@register("scrub", optimizer="sgd", lr=5e-4, momentum=0.9, weight_decay=5e-4, epochs=3,
          msteps=2, temperature=4.0, gamma=0.99, alpha=0.001, milestones=[3, 5, 9],
          decay_rate=0.1, batch_size=128, forget_batch_size=32,
          checks={"optimizer": one_of("adam", "sgd"), "lr": positive,
                  "weight_decay": non_negative, "momentum": non_negative,
                  "epochs": at_least(0), "msteps": at_least(0), "temperature": positive,
                  "gamma": non_negative, "alpha": non_negative, "decay_rate": non_negative,
                  "batch_size": at_least(1), "forget_batch_size": at_least(1)})
def scrub(model, ctx, cfg):
    # The student still holds the original weights: its eval-mode logits are the
    # teacher's, computed once (see the docstring), so no teacher copy is kept.
    t_forget = cached_teacher_logits(model, ctx.forget.images, ctx.device)
    t_retain = cached_teacher_logits(model, ctx.retain.images, ctx.device)
    opt = make_optimizer(model.parameters(), cfg["optimizer"], cfg["lr"],
                         cfg["weight_decay"], cfg["momentum"])
    for epoch in range(1, cfg["epochs"] + 1):
        lr = epoch_lr(epoch, cfg["lr"], cfg["milestones"], cfg["decay_rate"])
        for group in opt.param_groups:
            group["lr"] = lr
        if epoch <= cfg["msteps"]:
            max_pass(model, ctx.forget, t_forget, opt, ctx, cfg["forget_batch_size"],
                     cfg["temperature"])
        min_pass(model, ctx.retain, t_retain, opt, ctx, cfg)
    return model
