"""`ssd`: Selective Synaptic Dampening (docs/methods.md#ssd).

Source: Foster, Schoepf & Brintrup, "Fast Machine Unlearning Without Retraining Through
Selective Synaptic Dampening", AAAI 2024, https://arxiv.org/abs/2308.07707, and their code's
`ParameterPerturber` (src/ssd.py of https://github.com/if-loops/selective-synaptic-dampening,
checked against commit cdfdc0e35c1908e032a6e150d882b0fa17833f85).
Rule, with I_f the importance on D_f and I_ref on the reference set (unlearn.unlearning.importance):
for every parameter element,
    if I_f > α·I_ref:  θ ← min(λ·I_ref / I_f, 1)·θ      else θ unchanged.
No gradient step is taken; BatchNorm running statistics are untouched (they are buffers).

Diagnostics (ctx.stats, per run): `dampened_share`, the share of parameter elements whose
value the rule changed (factor < 1 on a non-zero weight), and `mean_dampening_factor`,
the mean factor over those elements (1.0 when none). A run with share 0 returned the
original model unchanged.

Defaults (SSDConfig) are the study's: reference = retain set, α = 10, λ = 0.1. Foster et al.'s
setting (ResNet-18, CIFAR) uses the full training set as reference and λ = 1:
    unlearn:
      ssd: {reference: train, alpha: 10.0, lam: 1.0, importance: batch}

Departures:
- importance: per_example (default) squares each example's gradient before averaging,
  which makes SSD independent of batch size, order and seed; Foster et al. square each
  batch-mean gradient (`importance: batch`, batches of `batch_size` shuffled with the
  run's generator). docs/methods.md#parameter-importance compares the two.
- reference: train is retain ∪ forget; with per-example importances it is formed exactly
  as the size-weighted mean of I_r and I_f instead of a second pass over the data.
- Foster et al.'s code has an exponent on the ratio and a lower bound (both 1 in their
  experiments: factor = min((λ I_ref/I_f)^1, 1)); they are fixed at 1 here.
"""
from typing import Literal

import torch

from unlearn.core.checks import at_least, non_negative
from unlearn.core.config import Config, config, param
from unlearn.data.splits import Split
from unlearn.methods import register
from unlearn.unlearning.importance import combine, importances


@config
class SSDConfig(Config):
    alpha: float = param(10.0, "α, selection threshold: dampen where I_f > α·I_ref "
                         "(study 10; Foster et al. 10)", non_negative)
    lam: float = param(0.1, "λ, dampening: θ ← min(λ·I_ref / I_f, 1)·θ (study 0.1; "
                       "Foster et al. 1)", non_negative)
    reference: Literal["retain", "train"] = param(
        "retain", "I_ref's set: retain, or train = retain ∪ forget (study retain; "
        "Foster et al. train)")
    importance: Literal["per_example", "batch"] = param(    # importance.FORMS
        "per_example", "per_example, or batch = the batch-mean form (study: not stated; "
        "Foster et al. batch)")
    batch_size: int = param(64, "images per importance batch; batch form only", at_least(1))
    chunk_size: int = param(64, "examples per forward pass of the per_example form; memory "
                            "only, never changes the result", at_least(1))


@register("ssd", SSDConfig)
def ssd(model, ctx, cfg):
    i_f, i_ref = ssd_importances(model, ctx, cfg)
    shares = dampen(model, i_f, i_ref, cfg.alpha, cfg.lam)
    ctx.stats.update({k: shares[k] for k in ("dampened_share", "mean_dampening_factor")})
    return model


def ssd_importances(model, ctx, cfg):
    """(I_f, I_ref) as configured: importances on D_f and on the reference set."""
    def imp(split):
        return importances(model, split, ctx.device, form=cfg.importance,
                           batch_size=cfg.batch_size, chunk_size=cfg.chunk_size,
                           generator=ctx.generator)
    i_f = imp(ctx.forget)
    i_r = imp(ctx.retain)
    if cfg.reference == "retain":
        return i_f, i_r
    if cfg.importance == "per_example":
        return i_f, combine([(i_r, len(ctx.retain)), (i_f, len(ctx.forget))])
    # batch form: batches must mix retain and forget images as a full-train loader would
    return i_f, imp(Split.concat([ctx.retain, ctx.forget]))


@torch.no_grad()
def dampen(model, i_f, i_ref, alpha, lam):
    """Apply SSD's rule in place. Returns {"selected_share": share of elements with
    I_f > α·I_ref, "dampened_share": share whose value it changed (factor < 1 on a
    non-zero weight), "mean_dampening_factor": mean factor over those (1.0 if none)},
    over the elements that have importances."""
    selected_total, dampened_total, factor_sum, total = 0, 0, 0.0, 0
    for name, p in model.named_parameters():
        if name not in i_f:          # frozen (requires_grad=False): no importance, untouched
            continue
        f, ref = i_f[name], i_ref[name]
        selected = f > alpha * ref
        # Unselected elements are multiplied by exactly 1.0 (bit-identical); selected ones
        # have f > α·ref ≥ 0, so the division is safe there (f is replaced by 1 elsewhere).
        safe_f = torch.where(selected, f, torch.ones_like(f))
        factor = torch.where(selected, torch.clamp(lam * ref / safe_f, max=1.0),
                             torch.ones_like(f))
        dampened = (factor < 1) & (p != 0)    # values the rule actually changes
        p.mul_(factor)
        selected_total += int(selected.sum())
        dampened_total += int(dampened.sum())
        factor_sum += float(factor[dampened].double().sum())
        total += selected.numel()
    return {"selected_share": selected_total / max(total, 1),
            "dampened_share": dampened_total / max(total, 1),
            "mean_dampening_factor": factor_sum / dampened_total if dampened_total else 1.0}
