"""Intervals, rank uncertainty and pictures from the score and report stages, run in-process on
a small synthetic workspace (tests/score_workspace.py): four methods, N = 6 runs, 200 resamples."""
import json
import re

import pytest
import yaml

import score_workspace
from stages import report, score
from unlearn.core.errors import UserError
from unlearn.scoring import report_tables
from unlearn.scoring.method_scores import CI_NAMES


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """finetune and neggrad get the very same runs: a tie in every resample."""
    root = score_workspace.make(tmp_path_factory.mktemp("ws"), same_as={"neggrad": "finetune"})
    score_workspace.score_and_report(root)
    return root


def metrics(ws, method):
    return json.loads((ws / f"metrics/score_details/{method}.detail.json").read_text())


def test_every_score_has_an_interval_holding_it(ws):
    for method in score_workspace.SHIFT:
        m = metrics(ws, method)
        for name in CI_NAMES:
            low, high = m[f"{name}_ci"]
            assert low <= m[name] <= high, (method, name)
    boot = json.loads((ws / "metrics/score_replicates/finetune.bootstrap.json").read_text())
    assert sorted(boot["replicates"]) == sorted(CI_NAMES)
    assert all(len(v) == 200 for v in boot["replicates"].values())


def test_report_prints_value_and_interval(ws):
    text = (ws / "metrics/report.md").read_text()
    m = metrics(ws, "finetune")
    low, high = m["score_ci"]
    assert f"{m['score']:.4f} [{low:.4f}, {high:.4f}]" in text
    assert "n/a" not in text
    assert "](plots/scores_ci.png)" in text and "](plots/eps_hist.png)" in text


def test_rank_uncertainty_in_leaderboard_and_report(ws):
    board = json.loads((ws / "metrics/leaderboard.json").read_text())
    rows = [r["method"] for r in board["rows"]]
    assert rows[-1] == "original"                        # remembers its forget set: last
    s = {r["method"]: r for r in board["rows"]}
    assert s["original"]["p_best"] is None and s["retrain"]["p_best"] is None
    assert s["finetune"]["p_best"] + s["neggrad"]["p_best"] == pytest.approx(1.0)
    # identical runs: every resample ties, so each is best half the time and neither is ahead
    assert s["finetune"]["p_best"] == pytest.approx(0.5)
    i = min(rows.index("finetune"), rows.index("neggrad"))      # the upper of the twins
    assert s[rows[i]]["p_beats_next"] == 0.5 and s[rows[i]]["group"] == s[rows[i + 1]]["group"]
    # original is far behind: resolved, a group of its own
    assert s[rows[-2]]["p_beats_next"] >= 0.975 and s["original"]["group"] > s[rows[-2]]["group"]
    assert s["original"]["rank_ci"] == [4, 4]
    assert s["retrain"]["forget_quality_vs_retrain"] == 1.0
    lo, hi = s["finetune"]["forget_quality_vs_retrain_ci"]
    assert 0 <= lo <= hi
    text = (ws / "metrics/report.md").read_text()
    twin_row = r"\| (finetune|neggrad) \| \w+ \| \d \| \d–\d \| 0\.50 \| 0\.50 tied \|"
    assert re.search(twin_row, text)


def test_a_widened_interval_is_marked():
    row = {"scorer": "both", "local_score": 0.5, "score_ci": [0.1, 0.5], "ci_extended": ["score"]}
    assert report_tables.cell(row, "local_score", "{:.4f}", 1) == "0.5000 [0.1000, 0.5000]†"
    row["ci_extended"] = []
    assert report_tables.cell(row, "local_score", "{:.4f}", 1) == "0.5000 [0.1000, 0.5000]"


def test_scores_csv_has_the_bounds(ws):
    lines = (ws / "metrics/plots/scores.csv").read_text().splitlines()
    assert lines[0].startswith("method,score,score_low,score_high,")
    row = dict(zip(lines[0].split(","), lines[1].split(",")))
    assert float(row["score_low"]) <= float(row["score"]) <= float(row["score_high"])


def test_report_and_images_are_byte_identical_on_rerun(ws):
    outs = ["metrics/report.md", "metrics/summary.json", "metrics/leaderboard.json",
            "metrics/plots/scores.csv",
            "metrics/plots/scores_ci.png", "metrics/plots/eps_hist.png"]
    before = {p: (ws / p).read_bytes() for p in outs}
    assert before["metrics/plots/eps_hist.png"].startswith(b"\x89PNG")
    with score_workspace.inside(ws):
        report.main([])
    assert {p: (ws / p).read_bytes() for p in outs} == before


def test_too_few_runs_reads_n_a_without_a_crash(tmp_path):
    root = score_workspace.make(tmp_path, n_runs=3, methods=("original", "retrain", "finetune"))
    score_workspace.score_and_report(root)
    m = json.loads((root / "metrics/score_details/finetune.detail.json").read_text())
    assert all(m[f"{name}_ci"] is None for name in CI_NAMES)
    assert "score.bootstrap.min_runs = 5" in m["ci_na"]
    text = (root / "metrics/report.md").read_text()
    assert "every interval reads n/a" in text and " n/a |" in text
    assert "How sure is the ranking" not in text
    assert json.loads((root / "metrics/leaderboard.json").read_text())["ci_na"] == m["ci_na"]


def test_replicates_from_different_settings_are_refused(tmp_path):
    root = score_workspace.make(tmp_path, methods=("original", "retrain"), resamples=20)
    score_workspace.score_and_report(root)
    path = root / "metrics/score_replicates/retrain.bootstrap.json"
    boot = json.loads(path.read_text())
    path.write_text(json.dumps({**boot, "seed": 1}))
    with score_workspace.inside(root), pytest.raises(SystemExit):
        report.main([])
    with score_workspace.inside(root), pytest.raises(UserError, match="seed differs"):
        report.main.__wrapped__([])


def test_bad_bootstrap_params_stop_the_stage_with_one_line(tmp_path, capsys):
    """(the other bad values: tests/test_params.py)"""
    root = score_workspace.make(tmp_path, methods=("original",), resamples=20)
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["score"]["bootstrap"]["resamples"] = 0
    (root / "params.yaml").write_text(yaml.safe_dump(p))
    with score_workspace.inside(root), pytest.raises(SystemExit) as exit_:
        score.main([])
    assert exit_.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: score.bootstrap.resamples: must be ≥ 1, got 0"]
    assert not (root / "metrics/scores/original.json").exists()


def test_method_diagnostics_reach_the_metrics_and_the_report(tmp_path):
    runs = [{"dampened_share": 0.0, "mean_dampening_factor": 1.0},
            {"dampened_share": 0.5, "mean_dampening_factor": 0.25}]
    root = score_workspace.make(tmp_path, n_runs=2, methods=("original", "retrain", "finetune"),
                                stats={"finetune": runs}, min_runs=5)
    score_workspace.score_and_report(root)
    assert metrics(root, "finetune")["method_stats"] == {"dampened_share": 0.25,
                                                          "mean_dampening_factor": 0.625}
    assert "method_stats" not in metrics(root, "original")
    text = (root / "metrics/report.md").read_text()
    assert "| finetune | dampened_share | 0.25 |" in text
    assert "| finetune | mean_dampening_factor | 0.625 |" in text


def test_the_report_shows_the_duplicate_audit(tmp_path):
    root = score_workspace.make(tmp_path, methods=("original", "retrain"), resamples=20)
    score_workspace.write_audit(root, [("forget", "F0001_a.jpg", "retain", "F0002_a.jpg", "exact", 0),
                                       ("retain", "F0003_b.jpg", "test", "F0851_b.jpg", "near", 3)])
    score_workspace.score_and_report(root)
    text = (root / "metrics/report.md").read_text()
    assert "## Duplicates and leaks in the data" in text
    assert "| 1 | 1 | 1 | 2 | 0 |" in text                     # exact, near, forget–retain, across
    assert "⚠ 1 forget–retain pair(s)" in text
    assert "| F0001_a.jpg | F0002_a.jpg | retain | exact | 0 |" in text
    board = json.loads((root / "metrics/leaderboard.json").read_text())
    assert board["duplicates"]["forget_retain_pairs"] == 1


def test_the_report_needs_the_audit(tmp_path):
    root = score_workspace.make(tmp_path, methods=("original",), resamples=20)
    (root / "data/prepared/duplicates.csv").unlink()
    with score_workspace.inside(root):
        score.main([])
        with pytest.raises(UserError, match=r"^data/prepared/duplicates.csv: missing; run the prepare stage$"):
            report.main.__wrapped__([])
