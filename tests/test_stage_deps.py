"""Stage deps that cannot go stale: each stage's code deps in dvc.yaml cover every module its
script imports, found by reading the imports (ast), transitively, so that editing any code a
stage runs reruns that stage; and every code dep is imported, so that editing code a stage
does not run reruns nothing."""
import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
PACKAGES = ("unlearn", "stages", "fanout", "tools")   # this repository's code


def module_file(name):
    """The file of module `name` in this repository, or None (a third-party module)."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imports_of(path, name):
    """Names of the modules a file imports anywhere in it (function bodies included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.append(base)
            found += [f"{base}.{a.name}" for a in node.names]   # `from pkg import module`
    return found


def imported_files(entry, extra=()):
    """Every repository file that importing module `entry` (and `extra`) loads."""
    todo, seen = [entry, *extra], {}
    while todo:
        name = todo.pop()
        path = module_file(name)
        if path is None or name in seen:
            continue
        seen[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]   # parent packages
        todo += imports_of(path, name)
    return {p.relative_to(ROOT).as_posix() for p in seen.values()}


def has_code(path):
    """False for a file holding nothing but a docstring (such as most __init__.py here)."""
    body = ast.parse((ROOT / path).read_text()).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body)


def stage_instances():
    """(name, cmd, deps) of every stage, foreach stages once per item of their list."""
    for name, stage in DVC["stages"].items():
        if "foreach" not in stage:
            yield name, stage["cmd"], stage["deps"]
            continue
        key = stage["foreach"].strip("${}")
        items = PARAMS
        for part in key.split("."):
            items = items[part]
        for item in items:   # a list: ${item}; a mapping (the methods): ${key}, its keys
            do = stage["do"]
            sub = lambda s: s.replace("${item}" if isinstance(items, list) else "${key}",  # noqa: E731
                                      str(item))
            yield f"{name}@{item}", sub(do["cmd"]), [sub(d) for d in do["deps"]]


def problems(cmd, deps):
    """What is wrong with a stage's code deps: ('missing', file) or ('unused', dep)."""
    words = cmd.split()
    assert words[:2] == ["python", "-m"], cmd
    entry, args = words[2], words[3:]
    # unlearn@<method> imports its method by name (unlearn.methods.get_method), check_params
    # every method (unlearn.validation checks each listed method's overrides)
    extra = ([f"unlearn.methods.{args[0]}"] if entry == "stages.unlearn" else
             [f"unlearn.methods.{m}" for m in PARAMS["unlearn"]]
             if entry == "stages.check_params" else [])
    files = {f for f in imported_files(entry, extra) if has_code(f)}
    code_deps = [d.rstrip("/") for d in deps if d.split("/")[0] in PACKAGES]

    def covered(f, d):
        return f == d or f.startswith(d + "/")
    out = [("missing", f) for f in sorted(files) if not any(covered(f, d) for d in code_deps)]
    out += [("unused", d) for d in code_deps if not any(covered(f, d) for f in files)]
    return out


@pytest.mark.parametrize("name, cmd, deps", list(stage_instances()),
                         ids=[s[0] for s in stage_instances()])
def test_code_deps_are_exactly_what_the_stage_imports(name, cmd, deps):
    found = problems(cmd, deps)
    if "@" in name:   # a foreach template's dep is unused only when no instance imports it
        template = name.split("@")[0]   # (unlearn@<method>: the shared method helpers)
        others = [problems(c, d) for n, c, d in stage_instances() if n.split("@")[0] == template]
        found = [p for p in found if p[0] == "missing" or all(p in o for o in others)]
    assert found == [], f"dvc.yaml, stage {name}"


def test_a_missing_or_unused_dep_is_found():
    """The check itself can fail: the train stage without unlearn/training, and with a folder
    of code it never imports."""
    deps = next(d for n, _, d in stage_instances() if n == "train_original@0")
    cut = [d for d in deps if d != "unlearn/training"] + ["unlearn/scoring"]
    found = problems("python -m stages.train_original 0", cut)
    assert ("missing", "unlearn/training/train.py") in found
    assert ("unused", "unlearn/scoring") in found


def test_one_method_stage_does_not_depend_on_another_method():
    files = imported_files("stages.unlearn", ["unlearn.methods.finetune"])
    methods = {f for f in files if f.startswith("unlearn/methods/") and has_code(f)}
    assert methods == {"unlearn/methods/__init__.py", "unlearn/methods/finetune.py"}
