"""The repository stands alone: nothing points to a reference outside it (the shared folder
next to a checkout, or its spec file), and every pointer into docs/ (a file, or a
file#anchor) lands on a real heading."""
import re
import subprocess
from pathlib import Path

import pytest

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
    """Its generated defaults section (tools/method_docs.py; tests/test_method_docs.py checks
    the contents)."""
    from unlearn.methods import method_names
    sections = anchors((ROOT / "docs/methods.md").read_text())
    assert [m for m in method_names() if f"{m}-defaults" not in sections] == []


