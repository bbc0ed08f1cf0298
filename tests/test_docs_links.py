"""The repository stands alone: nothing points to a reference outside it (the shared folder
next to a checkout, or its spec file), and every pointer into docs/ (a file, or a
file#anchor) lands on a real heading."""
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC_LINK = re.compile(r"docs/([\w./-]+\.md)(#[\w-]+)?")
# a path into the folder beside the checkout, or the name of the spec kept there
OUTSIDE = re.compile(r"\.\.[/\\]shared|\bSPEC\b")


def tracked_text_files():
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    keep = (".py", ".md", ".yaml", ".yml", ".txt", ".json", ".ini")
    return [ROOT / n for n in names if n.endswith(keep) or n == "Makefile"]


def anchors(markdown):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_nothing_points_outside_the_repository():
    bad = []
    for path in tracked_text_files():
        if path.name == Path(__file__).name or not path.is_file():
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:80]}")
    assert bad == []


def test_every_docs_link_lands_on_a_heading():
    docs = {p.relative_to(ROOT / "docs").as_posix(): anchors(p.read_text())
            for p in (ROOT / "docs").rglob("*.md")}
    broken = []
    for path in tracked_text_files():
        if not path.is_file():
            continue
        for file, anchor in DOC_LINK.findall(path.read_text(errors="replace")):
            if file not in docs or (anchor and anchor[1:] not in docs[file]):
                broken.append(f"{path.relative_to(ROOT)}: docs/{file}{anchor}")
    assert broken == []


@pytest.mark.parametrize("doc", sorted(p.name for p in (ROOT / "docs").glob("*.md")
                                        if p.name != "README.md"))
def test_the_docs_index_lists_each_doc(doc):
    assert f"({doc})" in (ROOT / "docs/README.md").read_text() or doc in (ROOT / "docs/README.md").read_text()


def test_every_method_has_a_section_in_the_methods_doc():
    from unlearn.core.params import method_names
    sections = anchors((ROOT / "docs/methods.md").read_text())
    assert [m for m in method_names() if m not in sections] == []


def _value(text):
    """A defaults-table cell as a value: `1e-4` a float (YAML 1.1 would read a string),
    `[3, 5, 9]` a list, `adam` a string; a parenthesised remark is dropped."""
    text = re.sub(r"\s*\(.*\)$", "", text.replace("`", "").strip())
    try:
        return float(text)
    except ValueError:
        return yaml.safe_load(text)


def _same(doc, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return doc == value or (value is None and doc in (None, "null"))
    return isinstance(doc, (int, float)) and abs(doc - value) <= 1e-9 * max(1.0, abs(value))


def test_the_methods_doc_gives_every_default_as_params_yaml_runs_it():
    """Each method's defaults table in docs/methods.md names every key of its params section,
    with the value the default run uses: typed numbers checked against params.yaml."""
    from unlearn.methods import available_methods, method_config
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    text = (ROOT / "docs/methods.md").read_text()
    wrong = []
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        name = section.split("\n", 1)[0].strip()
        if name not in available_methods():
            continue
        cfg = method_config(name, params["unlearn"].get(name))
        seen = set()
        for keys, cells in re.findall(r"^\| ((?:`\w+`(?:, )?)+)[^|]*\| ([^|]*) \|", section, re.M):
            keys = re.findall(r"`(\w+)`", keys)
            values = [cells] if len(keys) == 1 else cells.split(", ")
            for key, cell in zip(keys, values):
                seen.add(key)
                if key not in cfg or not _same(_value(cell), cfg[key]):
                    wrong.append(f"{name}.{key}: docs say {cell!r}, params.yaml runs {cfg.get(key)!r}")
        wrong += [f"{name}.{key}: not in the docs' defaults table" for key in cfg if key not in seen]
    assert wrong == []
