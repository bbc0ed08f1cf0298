"""The DVC pipeline itself, end to end, in a temporary git repo on a tiny config.

The tests share one repo and run in file order: each builds on the state the previous
one committed (as a user's history would).
"""
import json
from pathlib import Path

import pytest
import yaml

import pipeline_repo
from pipeline_repo import commit, copy_repo, dvc, edit_params, ran_stages, run
from unlearn.scoring.method_scores import HEADLINE


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = copy_repo(tmp_path_factory.mktemp("pipeline") / "repo")
    first = pipeline_repo._BUILT["first_run"]
    assert {"generate", "prepare", "train_original@0", "train_retrained@3", "unlearn@retrain",
            "score", "report"} <= first, first
    return path


def outs_hashes(repo):
    """md5 of every cached output in dvc.lock (metrics/timings excluded: wall clock)."""
    lock = yaml.safe_load((Path(repo) / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values()
            for out in stage.get("outs", []) if not out["path"].startswith("metrics")}


def test_full_run_leaves_status_clean_and_a_report(repo):
    status = dvc(repo, "status").stdout
    assert "up to date" in status, status
    report = (repo / "metrics/report.md").read_text()
    for method in ("original", "retrain", "finetune"):
        assert f"| {method} |" in report
        m = json.loads((repo / f"metrics/score_details/{method}.detail.json").read_text())
        for key in ("retain_acc", "forget_acc", "test_acc", "val_acc", "forget_quality",
                    "score", "scorer", "official_score", "nomus"):
            assert key in m, (method, key)
        # the DVC metric: the headline numbers only, flat, no timings
        headline = json.loads((repo / f"metrics/scores/{method}.json").read_text())
        assert set(headline) == {k for k in HEADLINE if k in m or k.startswith("score_")}
        assert headline["score_low"] is None   # N = 3: no interval
        assert m["n_runs"] == 3
        assert m["score_ci"] is None and "min_runs" in m["ci_na"]   # N = 3: too few for one
    assert "every interval reads n/a" in report
    assert (repo / "metrics/plots/eps_hist.png").read_bytes().startswith(b"\x89PNG")
    summary = json.loads((repo / "metrics/summary.json").read_text())
    assert summary["n_methods"] == 3 and summary["n_runs"] == 3   # no per-method numbers
    board = json.loads((repo / "metrics/leaderboard.json").read_text())
    assert {r["method"] for r in board["rows"]} == {"original", "retrain", "finetune"}
    assert all(r["cost_ratio"] > 0 for r in board["rows"])
    assert (repo / "models/unlearned/finetune/model.pt").is_file()
    assert (repo / "models/retrained/seed_3/model.pt").is_file()
    # a no-op repro runs nothing
    assert ran_stages(dvc(repo, "repro").stdout) == set()


def test_same_params_give_identical_outputs(repo):
    before = outs_hashes(repo)
    out = dvc(repo, "repro", "-f", "-s", "generate", "prepare", "train_original@0",
              "unlearn@finetune").stdout
    assert ran_stages(out) == {"generate", "prepare", "train_original@0", "unlearn@finetune"}
    assert outs_hashes(repo) == before
    run(repo, "git", "checkout", "--", ".")   # only wall-clock timings differed
    dvc(repo, "repro")


def test_method_param_change_reruns_only_that_method(repo):
    edit_params(repo, unlearn__finetune__lr=0.01)
    out = dvc(repo, "repro").stdout
    assert ran_stages(out) == {"unlearn@finetune", "score", "report"}
    commit(repo, "finetune lr 0.01")


def test_metrics_diff_between_commits_shows_the_changed_method(repo):
    diff = json.loads(dvc(repo, "metrics", "diff", "HEAD~1", "HEAD", "--json").stdout)
    assert "metrics/scores/finetune.json" in diff
    assert "score" in diff["metrics/scores/finetune.json"] or "retain_acc" in diff["metrics/scores/finetune.json"]
    assert "metrics/scores/original.json" not in diff
    assert "metrics/scores/retrain.json" not in diff


def test_editing_one_method_source_reruns_only_that_method(repo):
    path = repo / "unlearn/methods/finetune.py"
    path.write_text(path.read_text() + "\n# touched by a test\n")
    out = dvc(repo, "repro").stdout
    ran = ran_stages(out)
    assert "unlearn@finetune" in ran
    assert ran <= {"unlearn@finetune", "score", "report"}
    commit(repo, "edit finetune source")


def test_adding_a_retrain_seed_trains_only_that_model(repo):
    edit_params(repo, retrain__seeds=[1, 2, 3, 4], score__scorer="local")
    out = dvc(repo, "repro", "train_retrained").stdout
    assert ran_stages(out) == {"train_retrained@4"}
    out = dvc(repo, "repro").stdout
    assert not any(s.startswith(("train_", "unlearn@", "prepare", "generate"))
                   for s in ran_stages(out)), ran_stages(out)


def test_adding_an_original_seed_trains_one_model_and_spreads_the_runs(repo):
    """original.seeds [0] -> [0, 1]: only the new original trains; every method's N = 3 runs
    then start from originals 0, 1, 0 (run k from original k mod K) and the report says so."""
    before = (repo / "models/original/seed_0/model.pt").read_bytes()
    edit_params(repo, original__seeds=[0, 1])
    out = dvc(repo, "repro", "train_original").stdout
    assert ran_stages(out) == {"train_original@1"}
    assert (repo / "models/original/seed_0/model.pt").read_bytes() == before
    ran = ran_stages(dvc(repo, "repro").stdout)
    assert {f"unlearn@{m}" for m in ("original", "retrain", "finetune")} <= ran
    import numpy as np
    from unlearn.core import logits_file
    runs = logits_file.load(repo / "models/unlearned/original/runs")
    assert runs["originals"] == [0, 1, 0]
    logits = {o: logits_file.load(repo / f"models/original/seed_{o}/logits")["logits"]["forget"]
              for o in (0, 1)}
    for k, o in enumerate([0, 1, 0]):   # `original` returns the model it started from
        assert np.array_equal(runs["logits"]["forget"][k], logits[o])
    assert not np.array_equal(logits[0], logits[1])
    report = (repo / "metrics/report.md").read_text()
    assert "from K = 2 original models" in report and "seed 0: runs 1, 3; seed 1: run 2" in report
    assert json.loads((repo / "metrics/summary.json").read_text())["n_originals"] == 2
