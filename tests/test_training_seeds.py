"""Training seeds (`original.seeds`): the hierarchical bootstrap over originals and runs, the
share of a score's variance between originals, and what one original keeps unchanged."""
import json

import numpy as np
import pytest
import yaml

import score_workspace
from unlearn.scoring import bootstrap
from unlearn.scoring.method_scores import score_runs

GROUPS = [0, 1, 2, 0, 1, 2, 0]          # N = 7 runs round-robin over K = 3 originals


@pytest.mark.parametrize("scheme", bootstrap.SCHEMES)
def test_one_original_draws_exactly_as_before(scheme):
    plain = bootstrap.draw(3, 40, 5, 5, 9, scheme)
    one = bootstrap.draw(3, 40, 5, 5, 9, scheme, groups=[7] * 5)
    for a, b in zip((plain.runs, plain.refs, plain.examples, plain.noise_seeds),
                    (one.runs, one.refs, one.examples, one.noise_seeds)):
        assert np.array_equal(a, b)


def test_multinomial_draws_whole_originals_then_runs_within_them():
    d = bootstrap.draw(0, 400, len(GROUPS), 7, 9, "multinomial", groups=GROUPS)
    g = np.array(GROUPS)
    assert np.array_equal(d.runs, np.round(d.runs))
    dropped = 0
    for k in range(3):
        size = (g == k).sum()
        total = d.runs[:, g == k].sum(axis=1)
        assert np.all(total % size == 0)       # c copies of original k, n_k runs drawn per copy
        dropped += (total == 0).sum()
    assert dropped > 0                          # whole originals leave a replicate together
    # the references and examples keep their own streams
    plain = bootstrap.draw(0, 400, len(GROUPS), 7, 9, "multinomial")
    assert np.array_equal(d.refs, plain.refs) and np.array_equal(d.examples, plain.examples)
    assert not np.array_equal(d.runs, plain.runs)


def test_bayesian_hierarchical_weights_are_positive_with_mean_one():
    d = bootstrap.draw(1, 300, len(GROUPS), 7, 9, "bayesian", groups=GROUPS)
    assert (d.runs > 0).all()
    np.testing.assert_allclose(d.runs.mean(axis=1), 1.0)


def test_a_group_list_of_the_wrong_length_is_named():
    with pytest.raises(ValueError, match="groups: one original per run, got 3 for 5 runs"):
        bootstrap.draw(0, 10, 5, 5, 9, groups=[0, 1, 0])


def test_level_draws_vary_one_level_only():
    g = np.array(GROUPS)
    orig = bootstrap.level_draws(0, 200, GROUPS, 7, 9, "originals", noise_seed=5)
    for k in range(3):            # every run of an original carries that original's count
        block = orig.runs[:, g == k]
        assert (block == block[:, :1]).all()
    within = bootstrap.level_draws(0, 200, GROUPS, 7, 9, "within")
    for k in range(3):            # each original keeps its n_k draws
        assert np.all(within.runs[:, g == k].sum(axis=1) == (g == k).sum())
    assert (orig.refs == 1).all() and (orig.examples == 1).all() and (orig.noise_seeds == 5).all()
    with pytest.raises(ValueError, match="level: 'runs' unknown"):
        bootstrap.level_draws(0, 5, GROUPS, 7, 9, "runs")


def test_between_share_in_closed_form():
    assert bootstrap.between_share([0, 2], [1, 1]) == 1.0
    assert bootstrap.between_share([1, 1], [0, 2]) == 0.0
    assert bootstrap.between_share([0, 2], [0, 2]) == 0.5
    assert bootstrap.between_share([0, 4], [0, 2]) == 0.8        # 4 / (4 + 1)
    assert bootstrap.between_share([3, 3], [1, 1]) is None


def _cfg(resamples=300):
    cfg = yaml.safe_load((score_workspace.ROOT / "params.yaml").read_text())["score"]
    cfg["bootstrap"]["resamples"] = resamples
    return cfg


def _runs(shifts, seed=0, n_refs=None):
    """Runs whose forget logits sit `shifts[k]` above the references' (score_workspace's model
    of remembering), and the matching reference models."""
    rng = np.random.default_rng(seed)
    labels = score_workspace._labels(rng)
    per_run = [score_workspace._logits(rng, labels, 1, s) for s in shifts]
    runs = {split: np.concatenate([r[split] for r in per_run]) for split in labels}
    refs = [{"logits": {s: v[0] for s, v in score_workspace._logits(rng, labels, 1, 0.0).items()},
             "labels": labels} for _ in range(n_refs or len(shifts))]
    return runs, labels, refs


def test_one_original_keeps_every_score_and_replicate():
    runs, labels, refs = _runs([1.0, 0.5, 2.0, 0.0, 1.5])
    a, reps_a, _ = score_runs("m", runs, labels, refs, _cfg(100))
    b, reps_b, _ = score_runs("m", runs, labels, refs, _cfg(100), originals=[4] * 5)
    assert a == b
    assert all(np.array_equal(reps_a[k], reps_b[k]) for k in reps_a)
    assert a["n_originals"] == 1 and a["between_originals"] is None
    assert a["between_originals_na"] == "one original model"
    # two originals: the same point estimates, other intervals
    c, reps_c, _ = score_runs("m", runs, labels, refs, _cfg(100), originals=[0, 1, 0, 1, 0])
    assert all(c[k] == a[k] for k in ("score", "official_score", "klom_forget", "tow"))
    assert not np.array_equal(reps_a["official_score"], reps_c["official_score"])
    # one run per original: the two kinds of variation can't be told apart
    d, _, _ = score_runs("m", runs, labels, refs, _cfg(100), originals=[0, 1, 2, 3, 4])
    assert d["between_originals"] is None and "one run per original" in d["between_originals_na"]


def test_runs_that_differ_by_original_put_the_variance_between_originals():
    # original 0's three runs remember the forget set, original 1's don't: which originals a
    # resample draws decides the score
    grouped = [0, 1, 0, 1, 0, 1]
    runs, labels, refs = _runs([3.0, 0.0, 3.0, 0.0, 3.0, 0.0])
    m, _, _ = score_runs("m", runs, labels, refs, _cfg(), originals=grouped)
    assert m["between_originals"]["official_score"] > 0.8
    assert 0.0 <= m["between_originals"]["score"] <= 1.0   # the local score: noisier, measured 0.55
    # the same runs with the originals assigned across the two kinds: within dominates
    m, _, _ = score_runs("m", runs, labels, refs, _cfg(), originals=[0, 0, 1, 1, 2, 2])
    assert m["between_originals"]["official_score"] < 0.5


def test_the_report_states_k_and_the_share_between_originals(tmp_path):
    root = score_workspace.make(tmp_path, n_runs=6, methods=("original", "retrain", "finetune"),
                                resamples=50, originals=[0, 1, 0, 1, 0, 1])
    score_workspace.score_and_report(root)
    report = (root / "metrics/report.md").read_text()
    assert "from K = 2 original models" in report
    assert "seed 0: runs 1, 3, 5; seed 1: runs 2, 4, 6" in report
    assert "## Training seeds" in report and "| finetune |" in report.split("## Training seeds")[1]
    summary = json.loads((root / "metrics/summary.json").read_text())
    assert summary["n_originals"] == 2
    detail = json.loads((root / "metrics/score_details/finetune.detail.json").read_text())
    share = detail["between_originals"]["score"]
    assert 0.0 <= share <= 1.0


def test_one_original_reports_no_training_seed_section(tmp_path):
    root = score_workspace.make(tmp_path, n_runs=5, methods=("original", "retrain"),
                                resamples=20)
    score_workspace.score_and_report(root)
    report = (root / "metrics/report.md").read_text()
    assert "from one original model (training seed 0; the intervals hold for this original" in report
    assert "## Training seeds" not in report
