"""`retrain`: the gold-standard calibration row (docs/methods.md#retrain): a model trained
from scratch on the retain set with the original's recipe, with a seed disjoint from the
reference retrained models used by the scorers (seed = seed_offset + unlearning seed).

Its unlearn_seconds is a full retraining, so its cost ratio is ~1 by construction.
"""
import torch

from unlearn.methods import register
from unlearn.training.train import fit


@register("retrain", seed_offset=1000)
def retrain(model, ctx, cfg):
    seed = cfg["seed_offset"] + ctx.seed
    torch.manual_seed(seed)
    fresh = ctx.fresh_model()
    fresh, _, _ = fit(fresh, ctx.retain, ctx.val, ctx.train_recipe,
                      generator=torch.Generator().manual_seed(seed), device=ctx.device,
                      desc=f"retrain seed {seed}")
    return fresh
