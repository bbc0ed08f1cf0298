"""params.yaml checked up front: every key known, every value of the right type and range.

Each section is parsed by its class in unlearn/core/sections.py (its keys' types, defaults,
checks and rules across keys live there); this module adds what is about the file as a
whole: which top-level sections there are, which keys a present section must spell out,
keys that moved, the `device` scalar, and the `unlearn` section's shape. Every problem is
one line naming the dotted key, all of them reported at once, before any stage does work.

`unlearn` maps each method to run to the params it overrides (a mapping, `{}` for none);
which names are methods and what their keys may be is checked by the code that imports the
methods (unlearn/validation.py, the check_params stage), so that a stage which does not run
a method need not import it. This module imports no torch: the score and report stages use
it.
"""
import re
import typing

from unlearn.core.config import Config
from unlearn.core.errors import UserError
from unlearn.core.sections import (ComputeConfig, DataConfig, ExecutorConfig, GenerateConfig,
                                   OriginalModelsConfig, PrepareConfig, ReferenceModelsConfig, RunsConfig,
                                   ScoreConfig, TrainConfig)

# Each section but `device` and `unlearn`, with the class that parses it.
SECTIONS = {"executor": ExecutorConfig, "compute": ComputeConfig, "generate": GenerateConfig,
            "data": DataConfig, "prepare": PrepareConfig, "train": TrainConfig,
            "original": OriginalModelsConfig, "retrain": ReferenceModelsConfig, "runs": RunsConfig,
            "score": ScoreConfig}
TOP_LEVEL = ("device", *SECTIONS, "unlearn")

# Keys a present section may omit (the code runs the class's default); every other key of
# a present section, nested ones included, must be written out. Sections themselves are
# optional here: each stage reads the ones it needs.
OPTIONAL = {"executor": set(ExecutorConfig.keys()), "compute": set(ComputeConfig.keys()),
            "generate": {"duplicates"}, "prepare": {"duplicates", "near_threshold"},
            "train": set(TrainConfig.keys()) - {"preset"}, "runs": {"keep_checkpoints"}}

# Keys that moved: a params file written for an older version names them.
MOVED = {"train.seed": "original.seeds (a list: one original model per training seed)",
         "unlearn.seeds": "runs.seeds",
         "unlearn.keep_checkpoints": "runs.keep_checkpoints",
         "unlearn.methods": "the keys of `unlearn` (each method with the params it overrides, "
                            "e.g. `finetune: {}`)"}

DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def device_problems(value):
    """Where models run: auto (CUDA when present), cpu, cuda or cuda:<index>."""
    if isinstance(value, str) and DEVICE.fullmatch(value):
        return []
    return [f"device: expected auto, cpu, cuda or cuda:<index>, got {type(value).__name__} "
            f"{value!r}"]


def unlearn_problems(value):
    """The `unlearn` section's shape: a mapping of method names to mappings of overrides."""
    if not isinstance(value, dict):
        return [f"unlearn: expected a mapping, got {type(value).__name__}"]
    if not value:
        return ["unlearn: no method listed; e.g. `finetune: {}`"]
    errors = []
    for name, section in value.items():
        if f"unlearn.{name}" in MOVED:
            errors.append(f"unlearn.{name}: moved to {MOVED[f'unlearn.{name}']}")
        elif section is not None and not isinstance(section, dict):
            errors.append(f"unlearn.{name}: expected a mapping of params (or {{}}), got "
                          f"{type(section).__name__} {section!r}")
    return errors


def missing_keys(section, cls, where):
    """'<where>.<key>: missing key' for each key of `cls` that `section` leaves out and may
    not (OPTIONAL), nested sections included."""
    section = {} if section is None else section
    if not isinstance(section, dict):
        return []
    errors, hints = [], typing.get_type_hints(cls)
    for key in cls.keys():
        if key not in section:
            if key not in OPTIONAL.get(where, ()):
                errors.append(f"{where}.{key}: missing key")
        elif isinstance(hints[key], type) and issubclass(hints[key], Config):
            errors += missing_keys(section[key], hints[key], f"{where}.{key}")
    return errors


def section_problems(name, section):
    """(parsed section or None, one line per problem) of the params section `name`."""
    errors = []
    if isinstance(section, dict):
        moved = [k for k in section if f"{name}.{k}" in MOVED]
        errors += [f"{name}.{k}: moved to {MOVED[f'{name}.{k}']}" for k in moved]
        section = {k: v for k, v in section.items() if k not in moved}
    cfg, problems = SECTIONS[name].problems(section, name)
    errors += problems + missing_keys(section, SECTIONS[name], name)
    return (None if errors else cfg), errors


def params_problems(params, source="params.yaml"):
    """Every problem of the params mapping, one line each (empty when it is valid): unknown
    top-level keys, each present section parsed by its class (types, ranges, rules across
    its keys), missing and moved keys, and, once every section is clean, each section's
    rules across sections (`cross_check`)."""
    if not isinstance(params, dict):
        return [f"{source}: expected a mapping at top level"]
    errors, parsed = [], {}
    for name, value in params.items():
        if name == "device":
            errors += device_problems(value)
        elif name == "unlearn":
            errors += unlearn_problems(value)
        elif name in SECTIONS:
            parsed[name], problems = section_problems(name, value)
            errors += problems
        else:
            errors.append(f"{name}: unknown key; known: {', '.join(sorted(TOP_LEVEL))}")
    if not errors:
        for cfg in parsed.values():
            errors += cfg.cross_check(params)
    return errors


def collect(errors, check, *args, **kwargs):
    """Run a check that raises at its first problem; keep its message."""
    try:
        return check(*args, **kwargs)
    except UserError as e:
        errors.extend(str(e).splitlines())
        return None


def clean_sections(params, errors):
    """The top-level sections that no line of `errors` names (a section absent from the
    file counts as clean: its code applies the defaults; callers check presence)."""
    named = {e.split(":")[0].split(".")[0] for e in errors}
    return {k for k in TOP_LEVEL if k not in named}


def raise_problems(errors):
    """One UserError holding every problem, one line each (entry points print each line
    as its own `error: ...`)."""
    if errors:
        raise UserError("\n".join(errors))


def validate_params(params, source="params.yaml"):
    """Check the whole params mapping; return it unchanged when it is valid, else raise
    one UserError listing every problem."""
    raise_problems(params_problems(params, source))
    return params
