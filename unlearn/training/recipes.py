"""Training recipes for the original and retrained models (docs/study.md#training-recipes).

`study` (default): COMP540's recipe — Adam lr 5e-4, weight decay 5e-3, keep the
best-validation epoch (they trained 50 epochs and kept epoch 36). Augmentation is not
stated in the report; we use a random horizontal flip.
`choi_na`: the MUFAC paper's — SGD lr 0.01 momentum 0.9, 30 epochs, lr ÷10 at epochs
10 and 20, batch 64, flip + affine(shear 10, scale 0.8–1.2) + colour jitter 0.2, last
epoch kept.
Keys set next to `preset` in params.yaml override the preset's values.
"""
from unlearn.training.augment import AUGMENTATIONS
from unlearn.core.errors import UserError

PRESETS = {
    "study": dict(optimizer="adam", lr=5e-4, weight_decay=5e-3, momentum=0.0, epochs=50,
                  batch_size=64, milestones=[], gamma=0.1, augment="flip", select_best=True),
    "choi_na": dict(optimizer="sgd", lr=0.01, weight_decay=0.0, momentum=0.9, epochs=30,
                    batch_size=64, milestones=[10, 20], gamma=0.1, augment="choi_na",
                    select_best=False),
}
RECIPE_KEYS = tuple(PRESETS["study"])
OPTIMIZERS = ("adam", "sgd")


def resolve_recipe(section, where="train"):
    """Preset values overridden by any recipe key given beside `preset`."""
    preset = section.get("preset", "study")
    if preset not in PRESETS:
        raise UserError(f"{where}.preset: {preset!r} unknown; choose from {sorted(PRESETS)}")
    recipe = dict(PRESETS[preset])
    recipe.update({k: v for k, v in section.items() if k in RECIPE_KEYS})
    if recipe["optimizer"] not in OPTIMIZERS:
        raise UserError(f"{where}.optimizer: {recipe['optimizer']!r} unknown; choose from {OPTIMIZERS}")
    if recipe["augment"] not in AUGMENTATIONS:
        raise UserError(f"{where}.augment: {recipe['augment']!r} unknown; choose from {AUGMENTATIONS}")
    for key in ("epochs", "batch_size"):
        if recipe[key] < 1:
            raise UserError(f"{where}.{key}: must be ≥ 1, got {recipe[key]}")
    if recipe["lr"] <= 0:
        raise UserError(f"{where}.lr: must be > 0, got {recipe['lr']}")
    return recipe
