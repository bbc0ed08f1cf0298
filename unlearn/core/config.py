"""Typed params: one frozen dataclass per params section or method, the only source of its
defaults, its types, its value checks and the one-line note the docs show.

    @config
    class NegGradConfig(OptimizerConfig):
        lam: float = param(0.1, "weight λ of the forget CE; Choi & Na 1.0", non_negative)

`param(default, doc, check)` declares a key; a subclass that only changes a default writes
`lr: float = inherit(5e-4)` and keeps the base's doc and check. The annotation is the type
check (bool, int, float — an int is accepted and stored as a float —, str, `X | None`,
`list[X]`, `Literal[...]` for a closed set of strings, a union such as `int | Literal["auto"]`);
`check(value) -> None | str` says what else is wrong ("must be > 0 and finite, got -1",
unlearn/core/checks.py). A key annotated with a Config subclass is a nested section
(`duplicates: PlantingConfig = param(PlantingConfig, "...")`): its mapping is parsed by that
class, its problems named `<where>.<key>.<subkey>`, and its default is the class's defaults.

`Cfg.parse(section, where)` turns a params mapping into an instance, defaults filled in,
or raises one UserError listing every problem of the section, one line each, as
`<where>.<key>: <what is wrong>`; `validate(self)` on a class adds rules across its keys.
"""
import dataclasses
import types
import typing
from typing import Literal, Union

from unlearn.core.errors import UserError


def param(default, doc="", check=None):
    """A key: its default, a one-line note for the docs, and an optional value check."""
    meta = {"doc": doc, "check": check}
    if _is_config(default):      # a nested section: a fresh instance of its defaults
        return dataclasses.field(default_factory=default, metadata=meta)
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda d=tuple(default): list(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def inherit(default, doc=None):
    """A base class's key with another default: the base's check (and, unless `doc` is
    given, its note) are kept; `config` fills them in."""
    field = param(default, doc)
    field.metadata = types.MappingProxyType({"inherit": True, "doc": doc})
    return field


def config(cls):
    """Make `cls` a frozen dataclass of params (see the module docstring)."""
    for name, value in list(vars(cls).items()):
        if isinstance(value, dataclasses.Field) and value.metadata.get("inherit"):
            base = next((f for b in cls.__mro__[1:] if dataclasses.is_dataclass(b)
                         for f in dataclasses.fields(b) if f.name == name), None)
            if base is None:
                raise TypeError(f"{cls.__name__}.{name}: inherit() but no base class has it")
            doc = value.metadata["doc"]
            value.metadata = types.MappingProxyType(
                {**base.metadata, **({"doc": doc} if doc is not None else {})})
    return dataclasses.dataclass(frozen=True)(cls)


@config
class Config:
    """Base of every params dataclass."""

    @classmethod
    def keys(cls):
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def defaults(cls):
        """{key: default} in declaration order."""
        return {f.name: _default(f) for f in dataclasses.fields(cls)}

    @classmethod
    def describe(cls):
        """(key, type, default, note) per key, for generated docs."""
        hints = typing.get_type_hints(cls)
        return [(f.name, type_name(hints[f.name]), _default(f), f.metadata.get("doc") or "")
                for f in dataclasses.fields(cls)]

    @classmethod
    def parse(cls, section, where):
        """An instance from a params mapping (None or {} = all defaults); one UserError
        listing every problem, one line each, when the section is wrong."""
        cfg, problems = cls.problems(section, where)
        if problems:
            raise UserError("\n".join(problems))
        return cfg

    @classmethod
    def problems(cls, section, where):
        """(instance or None, [one line per problem])."""
        section = {} if section is None else section
        if not isinstance(section, dict):
            return None, [f"{where}: expected a mapping of params, got "
                          f"{type(section).__name__} {section!r}"]
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        errors, values = [], {}
        for key, value in section.items():
            if key not in fields:
                errors.append(f"{where}.{key}: unknown key; known: {', '.join(fields) or 'none'}")
                continue
            if _is_config(hints[key]):     # a nested section, checked by its own class
                sub, problems = hints[key].problems(value, f"{where}.{key}")
                errors.extend(problems)
                if sub is not None:
                    values[key] = sub
                continue
            problem = type_problem(value, hints[key])
            if problem is None and value is not None:
                check = fields[key].metadata.get("check")
                problem = check(value) if check else None
            if problem:
                errors.append(f"{where}.{key}: {problem}")
            else:
                values[key] = coerce(value, hints[key])
        if errors:
            return None, errors
        cfg = cls(**values)
        errors = [f"{where}.{line}" for line in cfg.validate()]
        return (None, errors) if errors else (cfg, [])

    def validate(self):
        """Problems across keys, each as '<key>: <what is wrong>' (none by default)."""
        return []

    def cross_check(self, params):
        """Problems with other params sections (the whole, schema-checked params mapping),
        each a whole line naming its key (none by default)."""
        return []

    def to_dict(self):
        return dataclasses.asdict(self)


def _is_config(tp):
    return isinstance(tp, type) and issubclass(tp, Config)


def _default(f):
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def _optional(tp):
    """The inner type of `X | None`, else None."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def _union(tp):
    """The members of a union other than `X | None`, else None."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        return typing.get_args(tp)
    return None


def _expected(tp):
    """A union member as an error message names it: int, 'auto', null."""
    if typing.get_origin(tp) is Literal:
        return " or ".join(map(repr, typing.get_args(tp)))
    return "null" if tp is type(None) else type_name(tp)


def type_name(tp):
    inner = _optional(tp)
    if inner is not None:
        return f"{type_name(inner)} or null"
    if _union(tp):
        return " | ".join("null" if a is type(None) else type_name(a) for a in _union(tp))
    if _is_config(tp):
        return "mapping"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(map(str, typing.get_args(tp)))
    if origin is list:
        return f"list of {type_name(typing.get_args(tp)[0])}"
    return tp.__name__


def type_problem(value, tp):
    """None when `value` has type `tp`, else what is wrong."""
    inner = _optional(tp)
    if inner is not None:
        return None if value is None else type_problem(value, inner)
    members = _union(tp)
    if members:
        if any(type_problem(value, m) is None for m in members):
            return None
        return (f"expected {' or '.join(map(_expected, members))}, got "
                f"{type(value).__name__} {value!r}")
    if tp is type(None):
        return None if value is None else f"expected null, got {type(value).__name__} {value!r}"
    origin = typing.get_origin(tp)
    if origin is Literal:
        options = typing.get_args(tp)
        if value in options and type(value) is type(options[0]):
            return None
        return f"must be one of {', '.join(map(repr, options))}, got {value!r}"
    if origin is list:
        if not isinstance(value, list):
            return f"expected a list, got {type(value).__name__} {value!r}"
        bad = next((v for v in value if type_problem(v, typing.get_args(tp)[0])), None)
        return None if bad is None else (f"expected a list of {type_name(typing.get_args(tp)[0])},"
                                         f" got {type(bad).__name__} {bad!r} in {value!r}")
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str)}[tp](value)
    return None if ok else f"expected {tp.__name__}, got {type(value).__name__} {value!r}"


def coerce(value, tp):
    """An int given for a float key becomes a float (1 and 1.0 must run the same); a union
    that takes ints as such (`int | float`) keeps them."""
    members = _union(tp) or (tp,)
    if (isinstance(value, int) and not isinstance(value, bool) and float in members
            and int not in members):
        return float(value)
    return value


@config
class NoParams(Config):
    """A section with no keys (e.g. the `original` row)."""
