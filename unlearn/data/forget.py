"""Which training images are to be forgotten: the `prepare.forget` params.

Modes (retain = train − forget in every mode; both keep the train CSV's order):
  random    `count` images, or `fraction` of train rounded to the nearest image, drawn
            without replacement with a seeded torch.Generator (torch.randperm gives the same
            draw on every platform). The COMP540 study: 200 of 10,025 images (2%).
  first     the first `count` rows of the train CSV (Choi & Na: 1,500). On MUFAC the CSV is
            ordered by family, so this forgets whole families except the one at the cut,
            which can be split between forget and retain; the seed is unused.
  identity  `count` whole persons ("family_id/person_id"), drawn with the seeded generator
            from the sorted list of train persons, as in the NeurIPS 2023 competition
            (which forgot 15 subjects); every image of a drawn person is forgotten.
`count` and `fraction` are exclusive; `fraction` is for random mode only (the checks that
need no data: the section's class, unlearn/core/sections.py).
"""
import torch

from unlearn.core.errors import UserError
from unlearn.core.sections import ForgetConfig

def _sized(n, total, what, key):
    if n < 1:
        raise UserError(f"{key}: the forget set would be empty")
    if n > total:
        raise UserError(f"{key}: forget size {n} exceeds the {total} train {what}")
    if n == total:
        raise UserError(f"{key}: forgetting all {total} train {what} leaves the retain set empty")


def select_forget(persons, mode, count=None, fraction=None, seed=0):
    """(forget, retain) index tensors into the train split, each sorted ascending.

    persons: the train split's person keys, one per image, in CSV order.
    """
    ForgetConfig.parse({"mode": mode, "count": count, "fraction": fraction, "seed": seed},
                       "prepare.forget")     # mode, count xor fraction, ranges
    total = len(persons)
    g = torch.Generator().manual_seed(seed)
    if mode == "identity":
        people = sorted(set(persons))
        _sized(count, len(people), "persons", "prepare.forget.count")
        chosen = {people[i] for i in torch.randperm(len(people), generator=g)[:count].tolist()}
        forget = torch.tensor([i for i, p in enumerate(persons) if p in chosen], dtype=torch.long)
    else:
        n = count if count is not None else int(round(fraction * total))
        key = "prepare.forget.count" if count is not None else "prepare.forget.fraction"
        _sized(n, total, "images", key)
        if mode == "first":
            forget = torch.arange(n)
        else:
            forget = torch.randperm(total, generator=g)[:n].sort().values
    keep = torch.ones(total, dtype=torch.bool)
    keep[forget] = False
    return forget, torch.nonzero(keep).flatten()
