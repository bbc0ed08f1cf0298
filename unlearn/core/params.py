"""params.yaml schema: every key known, every value of the right type, checked up front.

An unknown key or a wrong type is a one-line UserError naming the dotted key, before
any stage does work. The values of a method's section (`unlearn.<name>`) are checked
against the method's registered defaults by the code that imports the method
(unlearn.methods.method_config, run by `unlearn@<name>` and by
unlearn.methods.validate_all_params); this module only checks that every listed method
has a module, so that a stage which does not run a method need not import it.
"""
import re
from pathlib import Path

from unlearn.core.errors import UserError

# One module per method, named as the method (unlearn/methods/<name>.py, see its registry).
METHODS_DIR = Path(__file__).resolve().parents[1] / "methods"


class Choice:
    def __init__(self, *options):
        self.options = options

    def check(self, value):
        return value in self.options

    def describe(self):
        return "one of " + ", ".join(map(repr, self.options))


class ListOf:
    def __init__(self, item, min_len=0, distinct=False):
        self.item, self.min_len, self.distinct = item, min_len, distinct

    def check(self, value):
        return (isinstance(value, list) and len(value) >= self.min_len
                and all(_check(self.item, v) for v in value)
                and (not self.distinct or len(set(value)) == len(value)))

    def describe(self):
        what = "distinct " if self.distinct else ""
        return f"a list of {what}{_describe(self.item)} (at least {self.min_len})"

    def problem(self, value):
        """What is wrong with a value that fails check, in a few words."""
        if not isinstance(value, list):
            return f"expected {self.describe()}, got {type(value).__name__} {value!r}"
        if len(value) < self.min_len:
            return f"expected {self.describe()}, got {len(value)} item(s)"
        bad = [v for v in value if not _check(self.item, v)]
        if bad:
            return (f"expected {self.describe()}, got {type(bad[0]).__name__} {bad[0]!r} "
                    f"in {value!r}")
        twice = next(v for i, v in enumerate(value) if v in value[:i])
        return f"{twice!r} is listed twice in {value!r}; each must be distinct"


class Optional:
    def __init__(self, inner):
        self.inner = inner

    def check(self, value):
        return value is None or _check(self.inner, value)

    def describe(self):
        return f"null or {_describe(self.inner)}"


class Device:
    """Where models run: auto (CUDA when present), cpu, cuda or cuda:<index>."""
    def check(self, value):
        return isinstance(value, str) and re.fullmatch(r"auto|cpu|cuda(:\d+)?", value) is not None

    def describe(self):
        return "auto, cpu, cuda or cuda:<index>"


class AnyMapping:
    """A mapping whose keys are checked elsewhere (method sections)."""


def _check(spec, value):
    if isinstance(spec, (Choice, ListOf, Optional, Device)):
        return spec.check(value)
    if spec is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if spec is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, spec)


def _describe(spec):
    if isinstance(spec, tuple):
        return " or ".join(_describe(s) for s in spec)
    return spec.describe() if hasattr(spec, "describe") else spec.__name__


RECIPE_SCHEMA = {
    "optimizer": Choice("adam", "sgd"), "lr": float, "weight_decay": float,
    "momentum": float, "epochs": int, "batch_size": int, "milestones": ListOf(int),
    "gamma": float, "augment": Choice("none", "flip", "choi_na"), "select_best": bool,
}

SCHEMA = {
    "device": Device(),
    "executor": {"kind": str, "workers": (int, str), "workers_per_gpu": (int, str),
                 "address": Optional(str), "num_cpus": (int, float, str),
                 "num_gpus": (int, float, str), "max_retries": int},
    "compute": {"threads": int, "precision": str, "channels_last": (bool, str),
                "cudnn_benchmark": (bool, str), "deterministic": bool, "compile": bool,
                "fused_optimizer": bool, "eval_batch_size": int},
    "generate": {
        "seed": int, "out": str,
        "families": {"train": int, "val": int, "test": int},
        "persons_per_family": ListOf(int, 2), "photos_per_person": ListOf(int, 2),
        "label_noise": float,
        "duplicates": {"within_train": int, "across_splits": int, "reencoded": float},
    },
    "data": {"root": str, "image_size": int, "selection_split": Choice("val", "test"),
             "test_split": Choice("val", "test")},
    "prepare": {"forget": {"mode": Choice("random", "first", "identity"), "count": Optional(int),
                           "fraction": Optional(float), "seed": int},
                "duplicates": str, "near_threshold": int},
    "train": {"preset": Choice("study", "choi_na"), "arch": Choice("resnet18"), **RECIPE_SCHEMA},
    # seeds are distinct: a repeated seed would be one model counted as two independent ones
    "original": {"seeds": ListOf(int, 1, distinct=True)},
    "retrain": {"seeds": ListOf(int, 1, distinct=True)},
    "unlearn": {"seeds": ListOf(int, 1, distinct=True), "methods": ListOf(str, 1),
                "keep_checkpoints": int, "*": AnyMapping},
    "score": {
        "scorer": Choice("local", "official", "both"),
        "local": {"delta": float, "noise_divisor": float, "noise_seed": int, "n_splits": int,
                  "test_size": Optional(float)},
        "official": {"delta": float},
        "klom": {"bins": int, "clip": float, "percentile": float},
        "cost_limit": float,
        "bootstrap": {"resamples": int, "level": float, "seed": int, "min_runs": int,
                      "scheme": Choice("bayesian", "multinomial"), "resample_examples": bool},
    },
}
# Keys a section may omit (defaults are applied by the code that reads them).
OPTIONAL = {"train": set(RECIPE_SCHEMA) | {"arch"}, "unlearn": {"keep_checkpoints"},
            "generate": {"duplicates"}, "prepare": {"duplicates", "near_threshold"},
            "executor": {"kind", "workers", "workers_per_gpu", "address", "num_cpus", "num_gpus",
                         "max_retries"},
            "compute": {"threads", "precision", "channels_last", "cudnn_benchmark",
                        "deterministic", "compile", "fused_optimizer", "eval_batch_size"}}


# Keys that moved: a params file written for an older version names them.
MOVED = {"train.seed": "original.seeds (a list: one original model per training seed)"}


def _validate(value, schema, key, errors, optional=()):
    """Append one line per problem under `key` to `errors` (every problem, not the first)."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            errors.append(f"{key}: expected a mapping, got {type(value).__name__}")
            return
        for k, v in value.items():
            sub = schema.get(k, schema.get("*"))
            if f"{key}.{k}" in MOVED:
                errors.append(f"{key}.{k}: moved to {MOVED[f'{key}.{k}']}")
            elif sub is None:
                errors.append(f"{key}.{k}: unknown key; known: "
                              f"{', '.join(sorted(k for k in schema if k != '*'))}")
            elif sub is not AnyMapping:
                _validate(v, sub, f"{key}.{k}", errors)
        errors.extend(f"{key}.{k}: missing key" for k in schema
                      if k != "*" and k not in value and k not in optional)
        return
    if not _check(schema, value):
        if isinstance(schema, ListOf):
            errors.append(f"{key}: {schema.problem(value)}")
        else:
            errors.append(f"{key}: expected {_describe(schema)}, got {type(value).__name__} "
                          f"{value!r}")


def _check_bootstrap(boot):
    """Ranges the types can't say: a bootstrap needs at least one resample, a level strictly
    inside (0, 1), and at least two runs to tell them apart."""
    if boot["resamples"] < 1:
        raise UserError(f"score.bootstrap.resamples: must be >= 1, got {boot['resamples']}")
    if not 0 < boot["level"] < 1:
        raise UserError(f"score.bootstrap.level: must lie strictly between 0 and 1 "
                        f"(e.g. 0.95), got {boot['level']}")
    if boot["min_runs"] < 2:
        raise UserError(f"score.bootstrap.min_runs: must be >= 2, got {boot['min_runs']}")


def _check_klom(k):
    """KLoM's histogram needs two bins and a positive clip; its percentile lies in [0, 100]
    (the same rules as unlearn.scoring.klom.check, which a stage here must not import)."""
    if k["bins"] < 2:
        raise UserError(f"score.klom.bins: must be an integer >= 2, got {k['bins']!r}")
    if not k["clip"] > 0:
        raise UserError(f"score.klom.clip: must be > 0, got {k['clip']!r}")
    if not 0 <= k["percentile"] <= 100:
        raise UserError(f"score.klom.percentile: must lie in [0, 100], got {k['percentile']}")


def collect(errors, check, *args, **kwargs):
    """Run one section's own check (it raises at its first problem); keep its message."""
    try:
        return check(*args, **kwargs)
    except UserError as e:
        errors.extend(str(e).splitlines())
        return None


def params_problems(params, source="params.yaml"):
    """Every problem of the params mapping, one line each (empty when it is valid): the
    schema's (unknown keys, wrong types, values outside a closed set) and the value checks
    of the sections whose rules live with their code (compute, executor, score)."""
    if not isinstance(params, dict):
        return [f"{source}: expected a mapping at top level"]
    errors = []
    for section, value in params.items():
        if section not in SCHEMA:
            errors.append(f"{section}: unknown key; known: {', '.join(sorted(SCHEMA))}")
            continue
        schema = SCHEMA[section]
        if isinstance(schema, dict):
            _validate(value, schema, section, errors, OPTIONAL.get(section, ()))
        elif not _check(schema, value):
            errors.append(f"{section}: expected {_describe(schema)}, got {type(value).__name__} "
                          f"{value!r}")
    ok = clean_sections(params, errors)   # value checks assume the schema's types
    from unlearn.core.compute import check_compute
    from unlearn.core.executor import check_executor
    compute_cfg = collect(errors, check_compute, params.get("compute")) if "compute" in ok else None
    if compute_cfg is not None and "executor" in ok:
        collect(errors, check_executor, params.get("executor", {}),
                threads=compute_cfg["threads"])
    if "score" in ok and params.get("score"):
        collect(errors, _check_bootstrap, params["score"]["bootstrap"])
        collect(errors, _check_klom, params["score"]["klom"])
    unlearn = params.get("unlearn")
    if unlearn and "unlearn" in ok:
        known = method_names()
        errors.extend(f"unlearn.methods: unknown method {name!r}; registered: {', '.join(known)}"
                      for name in unlearn["methods"] if name not in known)
        if len(set(unlearn["methods"])) != len(unlearn["methods"]):
            errors.append("unlearn.methods: a method is listed twice")
        errors.extend(f"unlearn.{k}: unknown key (not a registered method)"
                      for k in unlearn if k not in SCHEMA["unlearn"] and k not in known)
    return errors


def clean_sections(params, errors):
    """The top-level sections that no line of `errors` names (a section absent from the
    file counts as clean: its code applies the defaults; callers check presence)."""
    named = {e.split(":")[0].split(".")[0] for e in errors}
    return {k for k in SCHEMA if k not in named}


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


def method_names():
    """The methods there are: the module names in unlearn/methods/, read without importing
    them (the registry checks that each module registers exactly its own name)."""
    return sorted(p.stem for p in METHODS_DIR.glob("*.py") if not p.stem.startswith("_"))
