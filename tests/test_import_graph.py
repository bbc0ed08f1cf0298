"""Layers point one way: no two of this repository's modules import each other, directly or
through others.

The imports are read with `ast` (nothing is imported), at module level and inside functions
alike: a lazy import is still a dependency, and a cycle through one only waits for the
first call to bite. `from pkg import name` is a dependency on the module `pkg.name` when
there is one, else on `pkg`; importing a package is a dependency on its __init__.py only
(not on its submodules), and `import a.b` on `a.b` only (not on `a`'s __init__.py).
A name that is no module of the repository (a stale or third-party import) counts as the
longest part of it that is one, or as nothing.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("unlearn", "stages", "fanout", "tools", "bench")   # this repository's code


def module_files(root=ROOT, folders=FOLDERS):
    """{module name: file} of every .py file under `folders` of `root`."""
    out = {}
    for folder in folders:
        for path in sorted((Path(root) / folder).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imported_names(path, name):
    """(dotted name, imported names or None) of every import statement in the file."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:   # relative: `from . import x`, `from ..core import y`
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.append((base, [a.name for a in node.names]))
    return found


def candidates(name, modules, script_dir=None):
    """The names `name` may stand for: in a folder of scripts (no __init__.py, such as
    bench/), a bare name that is no package of the repository is first a sibling file."""
    if script_dir is not None and name.split(".")[0] not in modules:
        return [f"{script_dir}.{name}", name]
    return [name]


def resolve(name, modules, script_dir=None):
    """The repository module that importing `name` loads (its longest part that is one),
    or None."""
    for candidate in candidates(name, modules, script_dir):
        parts = candidate.split(".")
        for i in range(len(parts), 0, -1):
            if ".".join(parts[:i]) in modules:
                return ".".join(parts[:i])
    return None


def import_graph(root=ROOT, folders=FOLDERS):
    """{module: set of the repository modules it imports}."""
    files = module_files(root, folders)
    graph = {}
    for name, path in files.items():
        in_package = (path.parent / "__init__.py").is_file()
        script_dir = None if in_package else (name.rpartition(".")[0] or None)
        deps = set()
        for base, names in imported_names(path, name):
            targets = [base]
            if names is not None:   # `from pkg import x`: the module pkg.x if there is one
                targets = [next((c for c in candidates(f"{base}.{n}", files, script_dir)
                                 if c in files), base) for n in names]
            for target in targets:
                dep = resolve(target, files, script_dir)
                if dep is not None and dep != name:
                    deps.add(dep)
        graph[name] = deps
    return graph


def strongly_connected(graph):
    """Tarjan's strongly connected components (iterative), each a sorted list."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out


def shortest_cycle(graph, component):
    """A shortest cycle through the first member of a strongly connected component."""
    start, members = component[0], set(component)
    paths, todo = {start: [start]}, [start]
    while todo:
        nxt = []
        for node in todo:
            for child in sorted(graph.get(node, ())):
                if child == start:
                    return paths[node] + [start]
                if child in members and child not in paths:
                    paths[child] = paths[node] + [child]
                    nxt.append(child)
        todo = nxt
    raise AssertionError(f"{component} is not a cycle")


def cycles(graph):
    """One cycle `a -> b -> ... -> a` per group of modules that import each other."""
    return [" -> ".join(shortest_cycle(graph, c))
            for c in strongly_connected(graph) if len(c) > 1]


def describe(found, graph):
    lines = []
    for cycle in found:
        members = sorted(set(cycle.split(" -> ")))
        component = next(c for c in strongly_connected(graph) if members[0] in c)
        extra = (f"  (all {len(component)} modules of the cycle group: {', '.join(component)})"
                 if len(component) > len(members) else "")
        lines.append(cycle + extra)
    return "\n".join(lines)


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    assert "unlearn.core.executor" in graph and "stages.prepare" in graph   # the walk found code
    found = cycles(graph)
    assert not found, "import cycles (module-level or inside functions):\n" + describe(found, graph)


def test_a_cycle_is_found_and_printed():
    """The check can fail: a made-up graph, one cycle of three beside an acyclic part."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert cycles(graph) == ["a -> b -> c -> a"]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_a_lazy_import_between_two_modules_is_a_cycle(tmp_path):
    """Two files of a package importing each other, one of them inside a function, with
    `from pkg import module` and a relative import: the parser sees the cycle."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""A package."""\n')
    (pkg / "one.py").write_text("from pkg import two\n")
    (pkg / "two.py").write_text("def f():\n    from .one import g\n    return g\n")
    (pkg / "three.py").write_text("import pkg\nfrom pkg.two import f\n")
    graph = import_graph(tmp_path, ("pkg",))
    assert graph == {"pkg": set(), "pkg.one": {"pkg.two"}, "pkg.two": {"pkg.one"},
                     "pkg.three": {"pkg", "pkg.two"}}
    assert cycles(graph) == ["pkg.one -> pkg.two -> pkg.one"]
