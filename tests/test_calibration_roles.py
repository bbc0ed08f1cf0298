"""Calibration rows (unlearn/scoring/roles.py): the role each method registered, recorded in
its row, decides; the report's statistics, leaderboard and the metrics' agreement ask the role,
never the name."""
import numpy as np

from unlearn.scoring import agreement, leaderboard, report_stats
from unlearn.scoring.roles import calibration_role, find_role


def test_a_row_without_a_recorded_role_is_a_method_whatever_its_name():
    assert calibration_role({"method": "retrain"}) is None
    assert calibration_role({"method": "original"}) is None


def test_the_registered_roles_are_what_the_unlearn_stage_records():
    from unlearn.methods import get_method
    assert get_method("retrain").calibration == "reference"
    assert get_method("original").calibration == "untouched"
    assert get_method("finetune").calibration is None


def test_a_recorded_role_wins_over_the_name():
    assert calibration_role({"method": "retrain", "calibration": None}) is None
    assert calibration_role({"method": "finetune", "calibration": "reference"}) == "reference"
    rows = [{"method": "retrain", "calibration": None}, {"method": "x", "calibration": "reference"}]
    assert find_role(rows, "reference") == 1 and find_role(rows, "untouched") is None


def _rows():
    """`gold` is the reference and `noop` the untouched model by their records alone."""
    return [{"method": "gold", "calibration": "reference", "score": 0.6, "forget_quality": 0.5},
            {"method": "retrain", "calibration": None, "score": 0.4, "forget_quality": 0.25},
            {"method": "noop", "calibration": "untouched", "score": 0.1, "forget_quality": 0.1}]


def test_statistics_and_leaderboard_follow_the_recorded_roles():
    rows = _rows()
    rng = np.random.default_rng(0)
    fq = np.array([[0.5] * 20, [0.25] * 20, [0.1] * 20])
    reps = {"score": np.array([r["score"] for r in rows])[:, None] + rng.normal(0, 0.01, (3, 20)),
            "forget_quality": fq}
    unc = report_stats.uncertainty(rows, reps, 0.95)
    assert unc["p_best"][0] is None and unc["p_best"][2] is None and unc["p_best"][1] == 1.0
    assert unc["forget_quality_vs_retrain"] == [1.0, 0.5, 0.2]   # relative to `gold`
    for r in rows:
        r.update(cost_ratio=0.1, over_cost_limit=False, unlearn_seconds=1.0)
    board = leaderboard.board(rows, unc, {})
    assert [r["calibration"] for r in board["rows"]] == [True, False, True]
    assert board["rows"][1]["forget_quality_vs_retrain"] == 0.5


def test_agreement_compares_the_recorded_reference_with_the_untouched_row():
    rows = _rows()
    reps = {"score": np.array([[0.6, 0.7], [0.0, 0.0], [0.1, 0.1]])}
    assert agreement.calibration_separation(rows, reps, 0.95)[0][1:] == (1.0, True)
