"""Adding a method is one new module and one line in params.yaml: no other file is edited.

The test copies the built tiny pipeline, writes a throwaway method module, adds its name under
`unlearn:` in params.yaml, runs `dvc repro` and finds the method's row in the report; the
generated reference (python -m tools.method_docs) then has its section and its keys.
"""
import json

from pipeline_repo import copy_repo, dvc, ran_stages, run

MODULE = '''"""`throwaway`: shrink the classifier's weights (a test's stand-in for a new method).

Not a real unlearning method: it exists to show that a module and one params line suffice.
"""
import torch

from unlearn.core.checks import positive
from unlearn.core.config import Config, config, param
from unlearn.methods import register


@config
class ThrowawayConfig(Config):
    scale: float = param(0.5, "factor on the last layer's weights", positive)


@register("throwaway", ThrowawayConfig)
def throwaway(model, ctx, cfg):
    with torch.no_grad():
        model.fc.weight.mul_(cfg.scale)
    return model
'''


def add_method_line(params_text):
    """params.yaml with `throwaway: {}` as the first entry under `unlearn:` (one line)."""
    head, tail = params_text.split("\nunlearn:\n", 1)
    return f"{head}\nunlearn:\n  throwaway: {{}}\n{tail}"


def test_a_new_method_is_one_module_and_one_params_line(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    (repo / "unlearn/methods/throwaway.py").write_text(MODULE)
    params = repo / "params.yaml"
    params.write_text(add_method_line(params.read_text()))
    changed = run(repo, "git", "diff", "--numstat").stdout.split()
    assert changed == ["1", "0", "params.yaml"]           # one line added, nothing else edited
    assert run(repo, "git", "status", "--porcelain").stdout.split() == [
        "M", "params.yaml", "??", "unlearn/methods/throwaway.py"]

    out = dvc(repo, "repro").stdout
    assert ran_stages(out) == {"unlearn@throwaway", "score", "report"}
    board = json.loads((repo / "metrics/leaderboard.json").read_text())
    row = next(r for r in board["rows"] if r["method"] == "throwaway")
    assert row["calibration"] is False and row["score"] is not None
    assert "throwaway" in (repo / "metrics/report.md").read_text()
    runs = json.loads((repo / "models/unlearned/throwaway/runs.json").read_text())
    assert runs["config"] == {"scale": 0.5} and runs["calibration"] is None

    run(repo, "python", "-m", "tools.method_docs")              # generated, not edited
    docs = (repo / "docs/methods.md").read_text()
    assert "### throwaway defaults" in docs
    assert "| `scale` | float | 0.5 | factor on the last layer's weights |" in docs
    readme = (repo / "README.md").read_text()
    assert "| `throwaway` | method | Shrink the classifier's weights (a test's stand-in" in readme
    assert run(repo, "python", "-m", "tools.method_docs", "--check").returncode == 0
