"""Teacher/student KL divergence, written once for bad_teacher, bad_teacher_sim and scrub.

Direction, stated once because the sources' notation and their code read differently:

    kl_per_example(student_logits, teacher, T)[i] = KL(p_t,i ‖ p_s,i)
                                                  = Σ_k p_t,ik (log p_t,ik − log p_s,ik)
    with p_s = softmax(student_logits / T) and p_t = softmax(teacher_logits / T)
    (or given teacher probabilities, e.g. a uniform target).

That is exactly `F.kl_div(log_softmax(student / T), softmax(teacher / T))`, PyTorch's
argument order being (input = student log-probs, target = teacher probs) while the
divergence it computes is KL(target ‖ input) = KL(teacher ‖ student). Each source:

- Chundawat et al. 2023 (bad teacher), https://github.com/vikram2000b/bad-teaching-unlearning,
  `UnlearnerLoss`: F.kl_div(log_softmax(out/T), teacher_probs) with the default
  reduction "mean" — KL(teacher ‖ student) summed over classes and divided by B·C
  (an element mean, not a batch mean), no T² factor. Summaries write
  "KL(student(x)/T ‖ teacher(x)/T)": that is the code's argument order, not the math
  direction; the computed quantity is KL(teacher ‖ student), which we use.
- Kurmanji et al. 2023 (SCRUB), RepDistiller's `DistillKL` (as vendored in
  https://github.com/meghdadk/SCRUB): F.kl_div(log_softmax(s/T), softmax(t/T),
  reduction="sum") · T² / B — KL(teacher ‖ student), batch mean, times T².
  The paper writes d(x) = KL(p(f(x; w_o)) ‖ p(f(x; w_u))), the same direction.
- fanchuan (Kaggle 2nd place, stage 1): nn.KLDivLoss("batchmean")(log_softmax(z), uniform)
  — KL(uniform ‖ softmax(z)), batch mean. Summaries' "KL(log_softmax(z) ‖ uniform)" is
  again the argument order.

docs/methods.md#kl-direction states the same for readers of the documentation.

So every source computes KL(target ‖ student); only the reduction and the T² factor
differ, and `kl_loss` exposes both. The reductions are computed here explicitly rather
than through F.kl_div's default: PyTorch warns that its "mean" will become "batchmean",
which would silently change Chundawat's loss scale by a factor C.
"""
import copy

import torch
import torch.nn.functional as F

from unlearn.training.train import logits_of

REDUCTIONS = ("batchmean", "mean", "sum", "none")


def softmax_t(logits, temperature=1.0):
    """Class probabilities at temperature T (the distillation target)."""
    return F.softmax(logits / temperature, dim=1)


def kl_per_example(student_logits, teacher=None, temperature=1.0, *, teacher_probs=None):
    """KL(p_teacher ‖ p_student) per example, shape [B], at temperature T.

    Pass the teacher as logits (`teacher`, softened at T here) or as probabilities
    already (`teacher_probs`, used as given: a uniform target, or a per-example mix of
    two teachers as in Chundawat's loss). The target is detached: in every source the
    teacher is a constant and only the student learns.
    """
    if (teacher is None) == (teacher_probs is None):
        raise ValueError("give exactly one of teacher (logits) or teacher_probs")
    target = softmax_t(teacher, temperature) if teacher_probs is None else teacher_probs
    target = target.detach()
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    # F.kl_div handles target = 0 entries as 0·log 0 = 0, as the sources' code does.
    return F.kl_div(log_student, target, reduction="none").sum(1)


def reduce_kl(per_example, reduction="batchmean", num_classes=None, weights=None):
    """Reduce per-example KLs the way a given source does.

    batchmean: Σ_i w_i KL_i / B   (SCRUB's DistillKL before T², fanchuan stage 1)
    mean:      Σ_i w_i KL_i / (B·C) (PyTorch's default, Chundawat's UnlearnerLoss)
    sum:       Σ_i w_i KL_i
    none:      w_i KL_i
    `weights` (default 1) scale examples without renormalising, so larger weights
    mean a larger loss (bad_teacher_sim's similarity weights rely on that).
    """
    if weights is not None:
        per_example = per_example * weights
    if reduction == "none":
        return per_example
    if reduction == "sum":
        return per_example.sum()
    if reduction == "batchmean":
        return per_example.sum() / max(len(per_example), 1)
    if reduction == "mean":
        if num_classes is None:
            raise ValueError("reduction 'mean' needs num_classes (it divides by B·C)")
        return per_example.sum() / max(len(per_example) * num_classes, 1)
    raise ValueError(f"reduction {reduction!r} unknown; choose from {REDUCTIONS}")


def kl_loss(student_logits, teacher=None, temperature=1.0, *, teacher_probs=None,
            reduction="batchmean", t_squared=False, weights=None):
    """KL(teacher ‖ student) at T, reduced; `t_squared` multiplies by T² (Hinton/DistillKL)
    so that gradient magnitudes do not shrink as 1/T² when T grows."""
    per = kl_per_example(student_logits, teacher, temperature, teacher_probs=teacher_probs)
    loss = reduce_kl(per, reduction, student_logits.shape[1], weights)
    return loss * temperature ** 2 if t_squared else loss


def distill_kl(student_logits, teacher_logits, temperature):
    """RepDistiller's DistillKL exactly: Σ KL(p_t ‖ p_s) · T² / B (used by SCRUB)."""
    return kl_loss(student_logits, teacher_logits, temperature,
                   reduction="batchmean", t_squared=True)


def frozen_copy(model):
    """A teacher: a deep copy in eval mode with gradients off (never trained again)."""
    teacher = copy.deepcopy(model)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


@torch.no_grad()
def teacher_outputs(teacher, x):
    """Teacher logits for a float batch already on the device: eval mode, no graph."""
    was_training = teacher.training
    teacher.eval()
    try:
        return teacher(x)
    finally:
        teacher.train(was_training)


def cached_teacher_logits(teacher, images, device, batch_size=None):
    """Eval-mode logits of a whole uint8 split, kept on `device`.

    Without augmentation a frozen teacher gives each image the same output in every
    epoch, so the methods compute it once instead of once per epoch (same values, one
    forward pass per image instead of `epochs`).
    """
    return logits_of(teacher, images, device, batch_size).to(device)
