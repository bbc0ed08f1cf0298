"""Training recipes for the original and retrained models (docs/study.md#training-recipes).

`study` (default): COMP540's recipe — Adam lr 5e-4, weight decay 5e-3, keep the
best-validation epoch (they trained 50 epochs and kept epoch 36). Augmentation is not
stated in the report; we use a random horizontal flip.
`choi_na`: the MUFAC paper's — SGD lr 0.01 momentum 0.9, 30 epochs, lr ÷10 at epochs
10 and 20, batch 64, flip + affine(shear 10, scale 0.8–1.2) + colour jitter 0.2, last
epoch kept.
Keys set next to `preset` in params.yaml override the preset's values.
"""
import typing

from unlearn.core.sections import Preset, TrainConfig

PRESETS = {
    "study": dict(optimizer="adam", lr=5e-4, weight_decay=5e-3, momentum=0.0, epochs=50,
                  batch_size=64, milestones=[], gamma=0.1, augment="flip", select_best=True),
    "choi_na": dict(optimizer="sgd", lr=0.01, weight_decay=0.0, momentum=0.9, epochs=30,
                    batch_size=64, milestones=[10, 20], gamma=0.1, augment="choi_na",
                    select_best=False),
}
assert tuple(PRESETS) == typing.get_args(Preset)   # the train section's preset names
RECIPE_KEYS = tuple(PRESETS["study"])


def resolve_recipe(section, where="train"):
    """The `train` section parsed by its class (unlearn/core/sections.py), as the recipe
    dict: the preset's values overridden by any recipe key given beside `preset`."""
    cfg = TrainConfig.parse(section, where)
    recipe = {k: (list(v) if isinstance(v, list) else v) for k, v in PRESETS[cfg.preset].items()}
    recipe.update(cfg.recipe_overrides())
    return recipe
