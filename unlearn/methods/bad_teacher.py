"""`bad_teacher`: competent and incompetent teachers (Chundawat et al., AAAI 2023;
docs/methods.md#bad_teacher).

Source: "Can Bad Teaching Induce Forgetting? Unlearning in Deep Networks using an
Incompetent Teacher", https://arxiv.org/abs/2205.08096; code
https://github.com/vikram2000b/bad-teaching-unlearning (`UnlearnerLoss`, `blindspot_unlearner`
in unlearn.py, their setting in CIFARSuper20_Rocket_Unlearn.ipynb), checked against commit
f1aa988f71cccf1be6d50e0c6f7b2b905e4c9126.

Update: the student (starting as the original) distils, on each example x of
D_f ∪ (random subset of D_r), from the incompetent teacher (a randomly initialised
model) when x ∈ D_f and from the competent teacher (frozen original) when x ∈ D_r:
    L(x) = KL(p_teacher(x)/T ‖ p_student(x)/T),   θ ← Adam(∇ mean L).

Direction: the code calls F.kl_div(log_softmax(student/T), softmax(teacher/T)), which
computes KL(teacher ‖ student); summaries write "KL(student/T ‖ teacher/T)" in the code's
argument order. We compute what the code computes (see unlearn/unlearning/distill.py and
docs/methods.md#kl-direction).

Defaults are the study's (COMP540 report): retain subset = retain_scale × |D_f| = 3 × |D_f|
images, Adam lr 1e-4 with weight decay 5e-3 (the study's setting for "all gradient
methods"), 5 epochs ("teacher methods 5 epochs"), batch 64 (the study states none; MUFAC's
64 is used, docs/study.md#setup): BadTeacherConfig. The original authors' setting, as params:

    unlearn:
      bad_teacher: {retain_fraction: 0.3, weight_decay: 0.0, epochs: 1, batch_size: 256}

Departures from the source, and why:
- Teacher outputs are computed once before training and reused each epoch: both
  teachers are frozen, in eval mode, and the data is not augmented, so each image's
  teacher output is the same every epoch (the source recomputes it per batch).
- Reduction "mean" (the source's F.kl_div default: Σ KL / (B·C), no T²) is kept as the
  default; "batchmean" (Σ KL / B) is offered because the element mean silently scales
  the loss by 1/C, which matters next to coupled weight decay.
- The student is put in train mode explicitly (the source leaves the mode as loaded).
- The retain subset is drawn once per run from ctx.generator (the source uses Python's
  `random.sample`, also once).
"""
from typing import Literal

import torch

from unlearn.core.checks import fraction, non_negative, positive
from unlearn.core.config import config, inherit, param
from unlearn.core.errors import UserError
from unlearn.data.splits import Split
from unlearn.methods import register
from unlearn.training.optim import EpochConfig, optimizer_for
from unlearn.training.train import batch, batch_indices, run_epoch
from unlearn.unlearning.distill import cached_teacher_logits, kl_loss, softmax_t


def retain_subset_size(n_retain, n_forget, retain_scale, retain_fraction=None):
    """How many retain images join the unlearning set.

    retain_fraction (the original: 0.3) wins when given, floored like the source's
    int(0.3 * len); otherwise round(retain_scale × |D_f|) (the study: 3 × |D_f|).
    Capped at |D_r|.
    """
    if retain_fraction is not None:
        if not 0.0 < float(retain_fraction) <= 1.0:
            raise UserError(f"retain_fraction must be in (0, 1], got {retain_fraction!r}")
        n = int(float(retain_fraction) * n_retain)
    else:
        if retain_scale < 0:
            raise UserError(f"retain_scale must be ≥ 0, got {retain_scale!r}")
        n = int(round(retain_scale * n_forget))
    return min(n, n_retain)


def unlearner_loss(student_logits, is_forget, good_logits, bad_logits, temperature=1.0,
                   reduction="mean"):
    """Chundawat's UnlearnerLoss: per example the target is the incompetent teacher's
    softened output when is_forget, the competent one's otherwise; KL(target ‖ student)."""
    sel = is_forget.to(student_logits.dtype).unsqueeze(1)
    target = sel * softmax_t(bad_logits, temperature) + (1 - sel) * softmax_t(good_logits,
                                                                                temperature)
    return kl_loss(student_logits, teacher_probs=target, temperature=temperature,
                   reduction=reduction)


def unlearning_set(ctx, retain_index):
    """D_f followed by the chosen retain images, with the forget flag (1 = D_f)."""
    data = Split.concat([ctx.forget, ctx.retain.subset(retain_index)])
    is_forget = torch.cat([torch.ones(len(ctx.forget), dtype=torch.bool),
                           torch.zeros(len(retain_index), dtype=torch.bool)])
    return data, is_forget.to(ctx.device)


@config
class BadTeacherConfig(EpochConfig):
    # optimiser: the study's for all gradient methods
    optimizer: Literal["adam", "sgd"] = inherit("adam", "adam or sgd (study and Chundawat "
                                                "adam)")
    lr: float = inherit(1e-4, "learning rate (study and Chundawat 1e-4)")
    weight_decay: float = inherit(5e-3, "the optimiser's L2 penalty (study 5e-3; Chundawat 0)")
    epochs: int = inherit(5, "passes over the unlearning set, D_f + the retain subset "
                          "(study 5; Chundawat 1)")
    batch_size: int = inherit(64, "images per step (study: not stated, MUFAC's 64; "
                              "Chundawat 256)")
    retain_scale: float = param(3.0, "retain subset = round(retain_scale × |D_f|) images "
                                "(study 3)", non_negative)
    retain_fraction: float | None = param(
        None, "retain subset = int(retain_fraction × |D_r|) instead, when set "
        "(Chundawat 0.3)", fraction)
    temperature: float = param(1.0, "T, softening of teacher and student outputs "
                               "(Chundawat 1)", positive)
    reduction: Literal["mean", "batchmean"] = param(
        "mean", "mean = Σ KL / (B·C), Chundawat's F.kl_div default; batchmean = Σ KL / B")


@register("bad_teacher", BadTeacherConfig)
def bad_teacher(model, ctx, cfg):
    n_keep = retain_subset_size(len(ctx.retain), len(ctx.forget), cfg.retain_scale,
                                cfg.retain_fraction)
    retain_index = torch.randperm(len(ctx.retain), generator=ctx.generator)[:n_keep]
    data, is_forget = unlearning_set(ctx, retain_index)

    # Both teachers' outputs on every example, once (see the docstring). The student
    # still holds the original weights here, so it serves as the competent teacher
    # without a copy; the incompetent one is dropped once its outputs are known.
    good_logits = cached_teacher_logits(model, data.images, ctx.device)
    bad_logits = cached_teacher_logits(ctx.fresh_model(), data.images, ctx.device)

    opt = optimizer_for(model.parameters(), cfg)

    def step_loss(index):
        x, _ = batch(data, index, ctx.device)
        on = index.to(ctx.device)
        return unlearner_loss(model(x), is_forget[on], good_logits[on], bad_logits[on],
                              cfg.temperature, cfg.reduction)

    for _ in range(cfg.epochs):
        run_epoch(model, opt, batch_indices(len(data), cfg.batch_size, ctx.generator), step_loss)
    return model
