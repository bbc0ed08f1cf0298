"""Value constraints for method params, checked when params are validated (before any stage).

A check is a callable `check(value) -> None | str`: None when the value is fine, else a
short phrase saying what is wrong ("must be in (0, 1], got 1.5"). Methods declare them
per key with `register(name, ..., checks={key: check})`; `method_config` turns a failed
check into the one-line error `unlearn.<name>.<key>: <phrase>`. Type checks come first
(from the registered defaults); a key whose default is null accepts any type, so the
numeric checks also reject non-numbers.
"""
import functools
import math

from unlearn.core.errors import UserError


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


@functools.lru_cache(maxsize=None)
def _module_names(arch, kinds):
    """Names of the modules of the given types in `arch` (built once, never trained)."""
    from unlearn.training.model import build_model
    return tuple(name for name, m in build_model(8, arch).named_modules()
                 if name and (not kinds or isinstance(m, kinds)))


def module_names(*kinds, arch="resnet18", min_len=1):
    """A list of distinct module names of `arch` (e.g. ["conv1", "fc"]), each of one of
    the given layer types (any module when none is given)."""
    def check(value):
        if len(value) < min_len:
            return f"must name at least {min_len} layer(s), got {list(value)!r}"
        if len(set(value)) != len(value):
            return f"a layer is named twice in {list(value)!r}"
        known = _module_names(arch, kinds)
        for name in value:
            if not isinstance(name, str) or name not in known:
                what = "/".join(k.__name__ for k in kinds) or "module"
                return (f"{name!r} is not a {what} of {arch}; e.g. "
                        f"{', '.join(known[:3])} … {known[-1]}")
        return None
    return check


def check_calibration_seeds(cfg, seeds, reference_seeds):
    """The `retrain` calibration row's models must not reuse the scorer's reference seeds."""
    clash = {cfg["seed_offset"] + s for s in seeds} & set(reference_seeds)
    if clash:
        raise UserError(f"unlearn.retrain.seed_offset: seeds {sorted(clash)} are also "
                        "reference seeds in retrain.seeds; choose a larger offset")
