"""Scores for logits you already have, as plain numpy (no torch): the NeurIPS 2023
competition's official forget quality, the study's local (Kaggle) scorer, the final score
that weighs forget quality by accuracy, KLoM and ToW. docs/scoring.md#scoring-your-own-logits
shows them at work.

    import unlearn.scoring as us
    conf_u = us.logit_scaled_confidence(unlearned_logits, labels)   # [N, S, C] -> [N, S]
    F = us.official_forget_quality(conf_u, us.logit_scaled_confidence(retrained_logits, labels))

The names below are the public API; each is loaded from its module on first use, so that
importing one does not import the others' dependencies (scikit-learn for the local scorer).
The package's modules (bootstrap intervals, the report's tables) are what the pipeline uses.
"""
import importlib

# public name -> the module (unlearn.scoring.<module>) that defines it
API = {
    "logit_scaled_confidence": "official", "official_epsilons": "official",
    "official_forget_quality": "official", "official_bucket_count": "official",
    "local_statistic": "local", "local_noise_std": "local",
    "noisy_retrained_statistics": "local", "local_epsilons": "local",
    "local_forget_quality": "local", "final_score": "local", "nomus": "local",
    "per_example_cross_entropy": "local",
    "margins": "klom", "klom_per_example": "klom", "tow": "klom",
}
__all__ = sorted(API)


def __getattr__(name):
    if name in API:
        value = getattr(importlib.import_module(f"unlearn.scoring.{API[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'unlearn.scoring' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(API))
