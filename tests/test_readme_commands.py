"""The README's (and docs/'s) commands work as typed, in a new shell, after `make repro`.

A new shell has none of the venv on PATH; the README says to `source .venv/bin/activate`
first. So every command line of every `sh` block is checked in such a shell: its program
is found, a `make` target exists, a `python -m` module is this repository's, and a `dvc`
command line parses with dvc's own parser. The README's "Comparing runs" block is then run
verbatim, line by line, in a new shell inside a copy of the tiny pipeline, and shows what
the README says it shows.
"""
import contextlib
import io
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from pipeline_repo import copy_repo, dvc

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PAGES = [README] + [p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))]
ACTIVATE = "source .venv/bin/activate"
pytestmark = pytest.mark.skipif(not (ROOT / ".venv/bin/activate").is_file(),
                                reason="no .venv here (make repro / make test create it)")


def sh_blocks(pages=(README,)):
    """(heading above it, [command lines]) of every ```sh block of the pages."""
    out = []
    for page in pages:
        heading = None
        for m in re.finditer(r"^```(\w*)\n(.*?)^```|^(#+ [^\n]*)$", page, re.M | re.S):
            if m.group(3):
                heading = m.group(3).lstrip("# ").strip()
            elif m.group(1) == "sh":
                out.append((heading, [line for line in m.group(2).splitlines() if line.strip()]))
    return out


def simple_commands(line):
    """The words of each command of a line (`a && b` is two), comments dropped."""
    words = shlex.split(line, comments=True)
    commands, current = [], []
    for w in words:
        if w == "&&":
            commands.append(current)
            current = []
        else:
            current.append(w)
    return [c for c in commands + [current] if c]


def new_shell(script, cwd):
    """bash without profile or rc files, with a bare PATH: what a user's new terminal has
    before they activate anything."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
           "LANG": "C.UTF-8", "DVC_NO_ANALYTICS": "1", "OMP_WAIT_POLICY": "PASSIVE",
           "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com"}
    return subprocess.run(["bash", "--noprofile", "--norc", "-e", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_readme_says_to_activate_the_venv():
    assert any(ACTIVATE in lines[0] for _, lines in sh_blocks())


def test_every_command_resolves_in_a_new_shell_after_activating():
    commands = [c for _, lines in sh_blocks(PAGES) for line in lines
                for c in simple_commands(line)]
    programs = sorted({c[0] for c in commands} - {"source", "cd"})
    found = new_shell(f"{ACTIVATE}\nfor p in {' '.join(programs)}; do type -P $p || echo MISSING $p; done",
                      ROOT)
    assert found.returncode == 0 and "MISSING" not in found.stdout, found.stdout + found.stderr
    python = [line for line in found.stdout.splitlines() if line.endswith("/python")]
    assert python and Path(python[0]).parent == ROOT / ".venv/bin"   # stages' `python`
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    from dvc.cli import parse_args
    for c in commands:
        if c[0] == "make":
            assert set(c[1:]) <= targets, c
        if c[:2] == ["python", "-m"]:
            module = ROOT.joinpath(*c[2].split("."))
            assert module.with_suffix(".py").is_file() or (module / "__main__.py").is_file(), c
        if c[0] == "dvc":
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                try:
                    parse_args(c[1:])
                except (Exception, SystemExit) as e:
                    pytest.fail(f"README: `{' '.join(c)}` does not parse ({type(e).__name__})")


def test_comparing_runs_runs_as_written_and_shows_what_it_says(tmp_path):
    block = next(lines for heading, lines in sh_blocks() if heading == "Comparing runs")
    assert any(line.startswith("dvc metrics diff HEAD~1 HEAD") for line in block)
    repo = copy_repo(tmp_path / "repo")
    (repo / ".venv").symlink_to(ROOT / ".venv")      # what `make repro` made in the user's clone
    (repo / ".git/info/exclude").write_text("/.venv\n")
    result = new_shell("\n".join([ACTIVATE, *block]), repo)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    # `dvc metrics diff`: finetune's headline numbers, no other method's, no summary line
    diff_rows = [line.split()[0] for line in out.splitlines() if line.startswith("metrics/")]
    assert diff_rows and set(diff_rows) == {"metrics/scores/finetune.json"}, out
    # the leaderboard, alone then side by side: one row per method
    assert "workspace: scorer " in out and "HEAD~1: scorer " in out and "HEAD: scorer " in out
    for method in ("original", "retrain", "finetune"):
        assert sum(line.startswith(method + " ") for line in out.splitlines()) >= 2, out
    assert (repo / "dvc_plots/index.html").is_file()


def test_dvc_metrics_show_is_a_few_columns_per_method(tmp_path):
    """`dvc metrics show`: one row per metrics file, the score files' columns the headline
    names, and no line wider than a wide terminal."""
    from unlearn.scoring.method_scores import HEADLINE
    repo = copy_repo(tmp_path / "repo")
    shown = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
    data = next(iter(shown.values()))["data"]
    finetune = data["metrics/scores/finetune.json"]["data"]
    assert set(finetune) <= set(HEADLINE) and "score" in finetune
    assert "methods" not in data["metrics/summary.json"]["data"]
    table = dvc(repo, "metrics", "show").stdout
    assert max(map(len, table.splitlines())) <= 250, max(map(len, table.splitlines()))
