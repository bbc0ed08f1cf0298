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
`count` and `fraction` are exclusive; `fraction` is for random mode only.
"""
import torch

from unlearn.core.errors import UserError

MODES = ("random", "first", "identity")
KEYS = ("mode", "count", "fraction", "seed")


def check_forget_config(cfg):
    """Checks that need no data (mode, count xor fraction, ranges); names the key."""
    unknown = sorted(set(cfg) - set(KEYS))
    if unknown:
        raise UserError(f"prepare.forget.{unknown[0]}: unknown key; known: {', '.join(KEYS)}")
    mode, count, fraction = cfg.get("mode"), cfg.get("count"), cfg.get("fraction")
    if mode not in MODES:
        raise UserError(f"prepare.forget.mode: {mode!r} unknown; choose one of {', '.join(MODES)}")
    if (count is None) == (fraction is None) and mode == "random":
        raise UserError("prepare.forget: set exactly one of count and fraction for random mode"
                        f" (got count={count!r}, fraction={fraction!r})")
    if mode != "random" and fraction is not None:
        raise UserError(f"prepare.forget.fraction: only for random mode; {mode} mode takes count")
    if mode != "random" and count is None:
        raise UserError(f"prepare.forget.count: required for {mode} mode")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise UserError(f"prepare.forget.count: expected an integer >= 1, got {count!r}")
    if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
                                 or not 0 < fraction < 1):
        raise UserError(f"prepare.forget.fraction: expected a number in (0, 1), got {fraction!r}")
    seed = cfg.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise UserError(f"prepare.forget.seed: expected an integer, got {seed!r}")


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
    check_forget_config({"mode": mode, "count": count, "fraction": fraction, "seed": seed})
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
