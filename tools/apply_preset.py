"""Apply a params preset (a YAML file of overrides, e.g. presets/mufac.yaml) to params.yaml.

    python -m tools.apply_preset presets/mufac.yaml [--set data.root=<path>] [--check]

Every key in the preset replaces the same key in params.yaml (mappings merge key by key;
lists and scalars are replaced whole); `--set KEY=VALUE` (VALUE read as YAML) is applied
after the preset. The result is checked against the params schema
(unlearn.validation) before anything is written: an unknown key or a wrong
type is a one-line error and params.yaml is left untouched. Comments and layout of
params.yaml are kept. `--check` validates and lists the changes without writing.
Not a pipeline stage: it only edits params.yaml, so `dvc repro` (or `dvc exp run`) then
reruns exactly the stages whose params changed.
"""
import argparse
import io
import sys
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from stages.common import PARAMS_FILE, entry_point, read_params_yaml
from unlearn.core.atomic import write_text
from unlearn.core.errors import UserError
from unlearn.validation import all_problems


def _round_trip():
    rt = YAML()  # round-trip: keeps comments, key order and flow-style lists
    rt.preserve_quotes = True
    rt.width = 88
    rt.representer.add_representer(  # `null`, as written in params.yaml, not an empty value
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return rt


UNSET = object()  # a key the params file did not have


def _as_node(value, like=None):
    """A plain value as a ruamel node; lists are written in flow style ([a, b]) like
    the list they replace, or when they hold only scalars."""
    if isinstance(value, dict):
        node = CommentedMap()
        for k, v in value.items():
            node[k] = _as_node(v)
        return node
    if isinstance(value, list):
        node = CommentedSeq(_as_node(v) for v in value)
        flow = (like.fa.flow_style() if isinstance(like, CommentedSeq)
                else not any(isinstance(v, (dict, list)) for v in value))
        if flow:
            node.fa.set_flow_style()
        return node
    return value


def merge(target, overrides, prefix="", changes=None):
    """Merge plain `overrides` into the ruamel mapping `target` in place; return the list
    of (dotted key, old, new) actually changed."""
    changes = [] if changes is None else changes
    for key, new in overrides.items():
        dotted = f"{prefix}{key}"
        old = target.get(key) if isinstance(target, dict) else None
        if isinstance(new, dict) and isinstance(old, dict):
            merge(old, new, f"{dotted}.", changes)
            continue
        existed = key in target
        plain_old = yaml.safe_load(_dump(old)) if old is not None else None
        if existed and plain_old == new:
            continue
        target[key] = _as_node(new, like=old)
        changes.append((dotted, plain_old if existed else UNSET, new))
    return changes


def _dump(node):
    buf = io.StringIO()
    _round_trip().dump(node, buf)
    # ruamel leaves a space at the end of a wrapped flow list's lines
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())


def parse_set(items):
    """`a.b.c=value` strings → nested mapping {a: {b: {c: value}}}, value read as YAML."""
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or any(not p for p in key.split(".")):
            raise UserError(f"--set {item!r}: expected KEY=VALUE with a dotted key, "
                            "e.g. data.root=/data/mufac")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise UserError(f"--set {item!r}: value is not valid YAML ({str(e).splitlines()[0]})") from None
        *parents, last = key.strip().split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise UserError(f"--set {item!r}: {p} was already set to a value")
        node[last] = value
    return out


def apply_preset(preset, params_path=PARAMS_FILE, sets=(), write=True):
    """Merge the preset (and `sets`) into params_path; validate; write unless write=False.

    Returns the list of changes as (dotted key, old value, new value).
    """
    params_path = Path(params_path)
    overrides = read_params_yaml(preset, "preset")
    read_params_yaml(params_path)  # clear message for a missing or broken file
    doc = _round_trip().load(params_path.read_text())
    changes = merge(doc, overrides)
    changes = merge(doc, parse_set(sets), changes=changes)
    text = _dump(doc)
    merged = yaml.safe_load(text)
    problems = all_problems(merged, source=str(params_path), folders=False)
    if problems:   # every problem, each line naming what was applied
        raise UserError("\n".join(f"{preset} applied to {params_path}: {p}" for p in problems))
    for line in all_problems(merged, source=str(params_path), folders=True):
        # data that is not in place yet: the pipeline's check_params stage stops until it is
        print(f"note: {line}; `dvc repro` stops at its check_params stage until then",
              file=sys.stderr)
    if write and changes:
        write_text(params_path, text)
    return changes


def _fmt(value):
    if value is UNSET:
        return "(unset)"
    return yaml.safe_dump(value, default_flow_style=True, width=4096).strip().removesuffix("\n...")


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", help="YAML file of overrides, e.g. presets/mufac.yaml")
    parser.add_argument("--params", default=str(PARAMS_FILE), help="params file to edit")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="one more override after the preset (repeatable)")
    parser.add_argument("--check", action="store_true",
                        help="validate and list the changes, write nothing")
    args = parser.parse_args(argv)
    changes = apply_preset(args.preset, args.params, args.sets, write=not args.check)
    for key, old, new in changes:
        print(f"  {key}: {_fmt(old)} -> {_fmt(new)}")
    verb = "would change" if args.check else "changed"
    print(f"{args.params}: {verb} {len(changes)} value(s) from {args.preset}; valid",
          file=sys.stdout)


if __name__ == "__main__":
    main()
