"""`retrain`: the gold-standard calibration row (docs/methods.md#retrain): a model trained
from scratch on the retain set with the original's recipe. Its batch order and augmentation
use the seed seed_offset + unlearning seed, disjoint from the reference retrained models'
seeds (stages/unlearn.py checks it); its initial weights come from ctx.fresh_model(), drawn
from the run's own generator (seeded by the unlearning seed), so they differ from the
references' in practice rather than by construction.

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
