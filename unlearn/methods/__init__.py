"""Unlearning methods, registered by name (timm-style registry).

Every method has one signature and one typed config, the only source of its defaults:

    @config
    class NegGradConfig(EpochConfig):                 # optimiser, epochs, batch size inherited
        lam: float = param(0.1, "weight λ of the forget CE", non_negative)

    @register("neggrad", NegGradConfig)
    def neggrad(model: nn.Module, ctx: UnlearnContext, cfg: NegGradConfig) -> nn.Module

`model` is a fresh copy of the original model on ctx.device (train it in place or return
another); `cfg` is the `unlearn.<name>` params section parsed into the config class
(unlearn/core/config.py: defaults filled in, types and value checks applied, a bad value is
the one-line error `unlearn.<name>.<key>: <what is wrong>`). All randomness comes from
ctx.generator / ctx.seed. A method may record per-run diagnostics as plain floats in
`ctx.stats`, which the runner carries into the run's outputs.

`calibration` marks the rows that are not unlearning methods but anchor the scale:
"reference" (retrained without the forget set: what the others should match) and
"untouched" (the original). The unlearn stage records it with the runs; the scorer and
the report read it from there.

A method lives in the module of its own name (unlearn/methods/<name>.py; `register` checks
it), so `get_method(name)` imports that one module and nothing else: the `unlearn@<name>`
stage depends on its own method's file, not on every method's. Adding a method is that
module plus its name under `unlearn:` in params.yaml (docs/methods.md#adding-a-method).
"""
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from unlearn.core.config import Config, NoParams
from unlearn.core.errors import UserError
from unlearn.training.model import build_model

CALIBRATION_ROLES = ("reference", "untouched")


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fn: callable
    config: type              # a Config subclass: the `unlearn.<name>` section's keys
    source_file: str
    calibration: str = None   # None (a method), "reference" or "untouched"

    @property
    def summary(self):
        """The first sentence of the method module's docstring, without its "`name`: "
        prefix and docs reference: what the method does, for generated tables."""
        doc = importlib.import_module(self.fn.__module__).__doc__ or ""
        text = " ".join(doc.strip().split("\n\n")[0].split())
        text = re.sub(r"\s*\(docs/[^)]*\)|;\s*docs/[^)]*", "",
                      text.removeprefix(f"`{self.name}`: "))
        # a sentence ends at . ! ? before a capital, but not after an initial ("S. Achour")
        sentence = re.split(r"(?<![\s(][A-Z]\.)(?<=[.!?])\s+(?=[A-Z(])", text, maxsplit=1)[0]
        return sentence[:1].upper() + sentence[1:]


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


def register(name, config=NoParams, calibration=None):
    """Register `fn` under `name` with its params config class (a Config subclass) and, for
    the rows that anchor the scale, its calibration role."""
    if not (isinstance(config, type) and issubclass(config, Config)):
        raise TypeError(f"method {name!r}: config must be a Config subclass, got {config!r}")
    if calibration not in (None, *CALIBRATION_ROLES):
        raise ValueError(f"method {name!r}: calibration must be one of {CALIBRATION_ROLES}")

    def decorate(fn):
        package, _, module = fn.__module__.rpartition(".")
        if package == __name__ and module != name:
            raise ValueError(f"method {name!r} registered in {fn.__module__}: a method lives in "
                             f"the module of its own name ({__name__}.{name})")
        if name in REGISTRY:
            raise ValueError(f"method {name!r} registered twice")
        import inspect
        REGISTRY[name] = MethodSpec(name, fn, config, inspect.getsourcefile(fn), calibration)
        return fn
    return decorate


def method_names():
    """The methods there are: the module names in this folder, read without importing them
    (`register` checks that each module registers exactly its own name)."""
    return sorted(p.stem for p in Path(__file__).parent.glob("*.py")
                  if not p.stem.startswith("_"))


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


def method_config(name, section, where=None):
    """The `unlearn.<name>` section parsed into the method's config (defaults filled in);
    one UserError with a line per problem when it is wrong."""
    return get_method(name).config.parse(section, where or f"unlearn.{name}")
