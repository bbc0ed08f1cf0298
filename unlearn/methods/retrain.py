"""`retrain`: the gold-standard calibration row (docs/methods.md#retrain): a model trained
from scratch on the retain set with the original's recipe. Its batch order and augmentation
use the seed seed_offset + unlearning seed, disjoint from the reference retrained models'
seeds (RetrainConfig.cross_check); its initial weights come from ctx.fresh_model(), drawn
from the run's own generator (seeded by the unlearning seed), so they differ from the
references' in practice rather than by construction.

Its unlearn_seconds is a full retraining, so its cost ratio is ~1 by construction.
"""
import torch

from unlearn.core.checks import at_least
from unlearn.core.config import Config, config, param
from unlearn.methods import register
from unlearn.training.train import fit


@config
class RetrainConfig(Config):
    seed_offset: int = param(1000, "calibration retrains use seeds seed_offset + s, disjoint "
                             "from the reference models' `retrain.seeds`", at_least(0))

    def cross_check(self, params):
        """The calibration models must not reuse the scorer's reference seeds."""
        clash = ({self.seed_offset + s for s in params["runs"]["seeds"]}
                 & set(params["retrain"]["seeds"]))
        if clash:
            return [f"unlearn.retrain.seed_offset: seeds {sorted(clash)} are also reference "
                    "seeds in retrain.seeds; choose a larger offset"]
        return []


@register("retrain", RetrainConfig, calibration="reference")
def retrain(model, ctx, cfg):
    seed = cfg.seed_offset + ctx.seed
    torch.manual_seed(seed)
    fresh = ctx.fresh_model()
    fresh, _, _ = fit(fresh, ctx.retain, ctx.val, ctx.train_recipe,
                      generator=torch.Generator().manual_seed(seed), device=ctx.device,
                      desc=f"retrain seed {seed}")
    return fresh
