"""Comparing runs: `dvc exp run -S`, commits compared with `dvc metrics/plots diff`, and a
queued sweep, with the commands of docs/comparing.md on the tiny repo.

The tests share one repo and run in file order: the sweep starts from the commit the
first test made (as a user's history would), so its lr=0.01 point is already in the
run-cache.
"""
import json
import sys
import time

import pytest
import yaml

from pipeline_repo import copy_repo, dvc, ran_stages, run
from unlearn.scoring.method_scores import HEADLINE

FINETUNE_ONLY = {"unlearn@finetune", "score", "report"}
NEW_LR = 0.01          # the README's example value
SWEEP = [0.001, 0.01]  # the README's sweep
QUEUE_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repo(tmp_path_factory.mktemp("experiments") / "repo")


def lr_of(repo):
    """finetune's lr as the run uses it: the override in params.yaml, else the default."""
    from unlearn.methods import method_config
    return method_config("finetune", yaml.safe_load((repo / "params.yaml").read_text())
                         ["unlearn"]["finetune"]).lr


def test_exp_run_commit_and_compare_two_commits(repo):
    assert lr_of(repo) != NEW_LR, "the README example must change finetune's lr"
    # edits params.yaml and reruns only the stages that read unlearn.finetune
    out = dvc(repo, "exp", "run", "-S", f"++unlearn.finetune.lr={NEW_LR}").stdout
    assert ran_stages(out) == FINETUNE_ONLY, out[-3000:]
    assert lr_of(repo) == NEW_LR
    run(repo, "git", "add", "params.yaml", "dvc.lock", "metrics")
    run(repo, "git", "commit", "-q", "-m", f"finetune: lr {NEW_LR}")
    assert run(repo, "git", "status", "--porcelain").stdout == ""

    table = dvc(repo, "metrics", "diff", "HEAD~1", "HEAD").stdout
    assert "metrics/scores/finetune.json" in table, table
    changed = json.loads(dvc(repo, "metrics", "diff", "HEAD~1", "HEAD", "--json").stdout)
    # only the method whose runs changed: no other method's rank, no summary line
    assert set(changed) == {"metrics/scores/finetune.json"}, sorted(changed)
    accuracy = {k for k in changed["metrics/scores/finetune.json"] if k.endswith("_acc")}
    assert accuracy, changed["metrics/scores/finetune.json"]   # lr 100x: the model moved
    assert set(changed["metrics/scores/finetune.json"]) <= set(HEADLINE)

    out = dvc(repo, "plots", "diff", "HEAD~1", "HEAD").stdout
    assert "dvc_plots/index.html" in out, out
    html = (repo / "dvc_plots/index.html").read_text()
    assert "HEAD~1" in html and "HEAD" in html
    plots = json.loads(dvc(repo, "plots", "diff", "HEAD~1", "HEAD", "--json").stdout)["data"]
    assert "metrics/plots/eps_hist.png" in plots and "metrics/plots/scores_ci.png" in plots
    rows = plots["scores"][0]["content"]["data"]["values"]
    by = {(r["rev"], r["method"]): {k: v for k, v in r.items() if k != "rev"} for r in rows}
    assert by[("HEAD~1", "original")] == by[("HEAD", "original")]
    assert by[("HEAD~1", "finetune")] != by[("HEAD", "finetune")]


def wait_for_queue(repo, timeout=QUEUE_TIMEOUT_S):
    """Poll `dvc queue status` until nothing is queued or running; kill it on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        status = dvc(repo, "queue", "status").stdout
        busy = [line for line in status.splitlines() if " Queued" in line or " Running" in line]
        if not busy:
            return status
        if time.monotonic() > deadline:
            dvc(repo, "queue", "stop", "--kill", check=False)
            pytest.fail(f"queued experiments still busy after {timeout} s:\n{status}")
        time.sleep(3)


def experiments_of(repo, baseline_rev):
    """{experiment name: its exp-show data} for the experiments based on baseline_rev."""
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    base = next(b for b in shown if b["rev"] == baseline_rev)
    out = {}
    for exp in base.get("experiments") or []:
        data = exp["revs"][0]["data"]
        out[exp["name"]] = {"state": exp["executor"]["state"] if exp.get("executor") else None,
                            "data": data}
    return out


def test_queued_sweep_runs_each_value_and_exp_show_lists_the_scores(repo, monkeypatch):
    head = run(repo, "git", "rev-parse", "HEAD").stdout.strip()
    values = ",".join(str(v) for v in SWEEP)
    queued = dvc(repo, "exp", "run", "--queue", "-S", f"++unlearn.finetune.lr={values}")
    assert queued.stdout.count("Queued experiment") == len(SWEEP), queued.stdout
    try:
        dvc(repo, "queue", "start", "-j", "2")
        status = wait_for_queue(repo)
    finally:
        dvc(repo, "queue", "stop", "--kill", check=False)
    assert "Failed" not in status, status + "".join(
        dvc(repo, "queue", "logs", name, check=False).stdout[-3000:]
        for name in experiments_of(repo, head))

    exps = experiments_of(repo, head)
    by_lr = {}
    for name, e in exps.items():
        assert e["state"] == "success", (name, e["state"])
        lr = e["data"]["params"]["params.yaml"]["data"]["unlearn"]["finetune"]["lr"]
        scores = e["data"]["metrics"]["metrics/scores/finetune.json"]["data"]
        for key in ("score", "forget_quality", "retain_acc", "test_acc"):
            assert isinstance(scores[key], float), (name, key, scores.get(key))
        by_lr[lr] = (name, scores)
    assert sorted(by_lr) == SWEEP, exps.keys()

    # each experiment reran finetune's stages only (the value already committed may come
    # back from the run-cache instead); the committed value gives the committed scores
    for lr, (name, scores) in by_lr.items():
        log = dvc(repo, "queue", "logs", name).stdout
        assert ran_stages(log) <= FINETUNE_ONLY, (lr, ran_stages(log))
        assert not any(s.startswith(("train_", "prepare", "generate")) for s in ran_stages(log))
    committed = json.loads((repo / "metrics/scores/finetune.json").read_text())
    assert by_lr[NEW_LR][1]["retain_acc"] == committed["retain_acc"]
    assert by_lr[SWEEP[0]][1]["retain_acc"] != committed["retain_acc"]

    # the README's table: one row per experiment, with lr and scores
    monkeypatch.setenv("COLUMNS", "250")   # not a terminal: rich would cut at 80
    table = dvc(repo, "exp", "show", "--no-pager", "--drop", ".*", "--keep",
                r"Experiment|State|unlearn\.finetune\.lr|"
                r"metrics/scores/finetune\.json:(score|forget_quality|retain_acc|test_acc)$").stdout
    for column in ("unlearn.finetune.lr", "metrics/scores/finetune.json:score"):
        assert column in table, table
    for lr, (name, _) in by_lr.items():
        row = next((line for line in table.splitlines() if f"[{name}]" in line), "")
        assert row and "Success" in row and str(lr) in row, table
    assert run(repo, "git", "status", "--porcelain").stdout.strip() in ("", "?? dvc_plots/")


def leaderboard(repo, *args):
    return run(repo, sys.executable, "-m", "tools.leaderboard", *args, check=False)


def test_leaderboard_prints_a_row_per_method_for_the_workspace_a_commit_and_an_experiment(repo):
    """After the tests above: the workspace, HEAD~1 (lr as first committed), an experiment
    of the sweep, and two side by side."""
    board = json.loads((repo / "metrics/leaderboard.json").read_text())
    out = leaderboard(repo)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("workspace: scorer ")
    table = [line for line in lines[2:] if line and not line.startswith(("*", "-"))][1:]
    assert [line.split()[0] for line in table] == [r["method"] for r in board["rows"]]
    finetune = next(line for line in table if line.startswith("finetune"))
    assert f"{next(r for r in board['rows'] if r['method'] == 'finetune')['score']:.4f}" in finetune

    old = json.loads(run(repo, "git", "show", "HEAD~1:metrics/leaderboard.json").stdout)
    exp = next(iter(experiments_of(repo, run(repo, "git", "rev-parse", "HEAD").stdout.strip())))
    both = leaderboard(repo, "HEAD~1", exp)
    assert both.returncode == 0, both.stderr
    assert both.stdout.startswith("HEAD~1: scorer ") and f"\n{exp}: scorer " in both.stdout
    rows = {line.split()[0]: line for line in both.stdout.splitlines()[4:]
            if not line.startswith("-")}
    assert set(rows) == {r["method"] for r in old["rows"]}
    assert rows["original"].rstrip().endswith("+0.0000")   # the same original on both sides
    md = leaderboard(repo, "--markdown")
    assert md.stdout.startswith("| method | score [interval] |") and md.stdout.count("\n") == 5

    for args, message in ((["no-such-rev"], "error: no-such-rev: neither a git revision nor an "
                                            "experiment name"),
                          (["a", "b", "c"], "error: at most two runs to compare, got 3")):
        bad = leaderboard(repo, *args)
        assert bad.returncode == 1 and bad.stderr.startswith(message), bad.stderr
