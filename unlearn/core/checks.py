"""Value checks for params keys (unlearn/core/config.py's `param(default, doc, check)`).

A check is a callable `check(value) -> None | str`: None when the value is fine, else a
short phrase saying what is wrong ("must be in (0, 1], got 1.5"), which the config turns
into the one-line error `<section>.<key>: <phrase>`. Type checks come first (from the
key's annotation); the numeric checks also reject non-numbers, for keys typed loosely.
"""
import math


def _fmt(value):
    return repr(value) if isinstance(value, str) else f"{value}"


def _not_a_number(value):
    """The phrase for a non-number (a key whose default is null accepts any type)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected a number, got {type(value).__name__} {value!r}"
    return None


def fraction(value):
    """A share in (0, 1]."""
    if _not_a_number(value):
        return _not_a_number(value)
    if not 0.0 < value <= 1.0:
        return f"must be in (0, 1], got {_fmt(value)}"
    return None


def in_unit_interval(value):
    """A weight in [0, 1] (e.g. NegGrad+'s α)."""
    if _not_a_number(value):
        return _not_a_number(value)
    if not 0.0 <= value <= 1.0:
        return f"must be in [0, 1], got {_fmt(value)}"
    return None


def non_negative(value):
    if _not_a_number(value):
        return _not_a_number(value)
    if not (value >= 0 and math.isfinite(value)):
        return f"must be ≥ 0 and finite, got {_fmt(value)}"
    return None


def positive(value):
    if _not_a_number(value):
        return _not_a_number(value)
    if not (value > 0 and math.isfinite(value)):
        return f"must be > 0 and finite, got {_fmt(value)}"
    return None


def finite(value):
    if _not_a_number(value):
        return _not_a_number(value)
    if not math.isfinite(value):
        return f"must be finite, got {_fmt(value)}"
    return None


def at_least(low):
    def check(value):
        if _not_a_number(value):
            return _not_a_number(value)
        if value < low:
            return f"must be ≥ {low}, got {_fmt(value)}"
        return None
    return check


def one_of(*options):
    def check(value):
        if value not in options:
            return f"must be one of {', '.join(map(repr, options))}, got {_fmt(value)}"
        return None
    return check


def count_or_auto(value):
    if value != "auto" and value < 1:
        return f"must be an integer ≥ 1 or 'auto', got {value!r}"
    return None


def positive_or_auto(value):
    if value != "auto" and not (value > 0 and math.isfinite(value)):
        return f"must be a number > 0 or 'auto', got {value!r}"
    return None


def non_negative_or_auto(value):
    if value != "auto" and not (value >= 0 and math.isfinite(value)):
        return f"must be a number ≥ 0 or 'auto', got {value!r}"
    return None


def low_high(value):
    if len(value) != 2 or not 1 <= value[0] <= value[1]:
        return f"expected [low, high] integers with 1 <= low <= high, got {value!r}"
    return None


def share_below_one(value):
    """A share in [0, 1)."""
    return None if 0 <= value < 1 else f"must be in [0, 1), got {value}"


def open_unit_interval(value):
    """A share in (0, 1)."""
    return None if 0 < value < 1 else f"must be in (0, 1), got {value}"


def strictly_inside_unit(value):
    if not 0 < value < 1:
        return f"must lie strictly between 0 and 1 (e.g. 0.95), got {value}"
    return None


def percentile(value):
    return None if 0 <= value <= 100 else f"must lie in [0, 100], got {value}"


def share_or_count(value):
    if isinstance(value, int) and value < 1 or isinstance(value, float) and not 0 < value < 1:
        return f"must be a share in (0, 1) or a count ≥ 1, got {value}"
    return None


def distinct_seeds(value):
    """At least one seed, none twice (a repeated seed would be one model counted as two)."""
    if not value:
        return "must list at least one seed, got []"
    twice = next((v for i, v in enumerate(value) if v in value[:i]), None)
    if twice is not None:
        return f"{twice!r} is listed twice in {value!r}; each must be distinct"
    return None
