"""Unlearning methods, registered by name (timm-style registry).

Every method has one signature:

    @register("name", lr=1e-4, epochs=1, ...)      # keyword defaults = its params schema
    def name(model: nn.Module, ctx: UnlearnContext, cfg: dict) -> nn.Module

`model` is a fresh copy of the original model on ctx.device (train it in place or
return another); `cfg` is the validated `unlearn.<name>` params section with defaults
filled in; all randomness comes from ctx.generator / ctx.seed. A method may record
per-run diagnostics as plain floats in `ctx.stats` (e.g. ssd's share of dampened
parameters), which the runner carries into the run's outputs.

Value constraints: `register(name, ..., checks={key: check})` with checks from
unlearn.unlearning.checks (fractions, non-negative numbers, known layer names ...). `method_config`
applies them when params are validated, before any stage runs, so a bad value is the
one-line error `unlearn.<name>.<key>: <what is wrong>`.

A method lives in the module of its own name (unlearn/methods/<name>.py; `register` checks
it), so `get_method(name)` imports that one module and nothing else: the `unlearn@<name>`
stage depends on its own method's file, not on every method's.
"""
import importlib
from dataclasses import dataclass, field

import torch

from unlearn.core.errors import UserError
from unlearn.core.params import method_names, raise_problems
from unlearn.training.model import build_model


@dataclass
class MethodSpec:
    name: str
    fn: callable
    defaults: dict
    source_file: str
    checks: dict = field(default_factory=dict)


@dataclass
class UnlearnContext:
    retain: object            # unlearn.data.splits.Split
    forget: object
    val: object
    device: torch.device
    seed: int
    num_classes: int
    arch: str = "resnet18"
    train_recipe: dict = field(default_factory=dict)  # the original model's recipe
    generator: torch.Generator = None
    stats: dict = field(default_factory=dict)   # per-run diagnostics, plain floats
    # the resolved `compute` settings (unlearn/core/compute.py) the run's models get;
    # None = plain fp32, as prepared for the CPU
    compute: dict = None

    def __post_init__(self):
        if self.generator is None:
            self.generator = torch.Generator().manual_seed(self.seed)

    def fresh_model(self):
        """A randomly initialised model of the original's architecture, seeded from ctx, on
        ctx.device and prepared like the run's own model (precision, memory format)."""
        from unlearn.core.compute import prepare_model
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_model(self.num_classes, self.arch).to(self.device)
        return prepare_model(model, self.compute) if self.compute else model


REGISTRY: dict = {}


def register(name, checks=None, **defaults):
    """Register `fn` under `name`; keyword defaults are its params schema, `checks` maps
    some of those keys to value checks (unlearn.unlearning.checks)."""
    checks = dict(checks or {})
    unknown = set(checks) - set(defaults)
    if unknown:
        raise ValueError(f"method {name!r}: checks for unknown keys {sorted(unknown)}")

    def decorate(fn):
        package, _, module = fn.__module__.rpartition(".")
        if package == __name__ and module != name:
            raise ValueError(f"method {name!r} registered in {fn.__module__}: a method lives in "
                             f"the module of its own name ({__name__}.{name})")
        if name in REGISTRY:
            raise ValueError(f"method {name!r} registered twice")
        import inspect
        REGISTRY[name] = MethodSpec(name, fn, defaults, inspect.getsourcefile(fn), checks)
        return fn
    return decorate


def _import_all():
    for name in method_names():
        importlib.import_module(f"{__name__}.{name}")


def get_method(name):
    if name not in REGISTRY and name in method_names():
        importlib.import_module(f"{__name__}.{name}")   # only this method's module
    if name not in REGISTRY:
        _import_all()            # for the error message: every registered name
        raise UserError(f"unknown method {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def available_methods():
    _import_all()
    return sorted(REGISTRY)


def _type_ok(value, default):
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def method_config(name, section, where=None):
    """Validate the `unlearn.<name>` section against the method's defaults; fill gaps."""
    spec = get_method(name)
    where = where or f"unlearn.{name}"
    section = {} if section is None else section
    if not isinstance(section, dict):
        raise UserError(f"{where}: expected a mapping of params, got {type(section).__name__}")
    errors, mistyped = [], set()   # every problem of the section, one line each
    for key, value in section.items():
        if key not in spec.defaults:
            errors.append(f"{where}.{key}: unknown key; known: {', '.join(sorted(spec.defaults))}")
        elif not _type_ok(value, spec.defaults[key]):
            mistyped.add(key)
            errors.append(f"{where}.{key}: expected {type(spec.defaults[key]).__name__}, "
                          f"got {type(value).__name__} {value!r}")
    cfg = dict(spec.defaults)
    cfg.update({k: v for k, v in section.items() if k in spec.defaults})
    for key, check in spec.checks.items():
        if key in mistyped or (cfg[key] is None and spec.defaults[key] is None):
            continue                     # named above, or an optional key left unset
        problem = check(cfg[key])
        if problem:
            errors.append(f"{where}.{key}: {problem}")
    raise_problems(errors)
    return {k: float(v) if isinstance(spec.defaults[k], float) else v for k, v in cfg.items()}
