"""The bootstrap's draws, intervals and rank statistics (unlearn/scoring/bootstrap.py) on known cases."""
import numpy as np
import pytest

from unlearn.scoring import bootstrap


@pytest.mark.parametrize("scheme", bootstrap.SCHEMES)
def test_draws_are_deterministic_paired_and_independent_streams(scheme):
    a = bootstrap.draw(7, 50, n_runs=4, n_refs=4, n_examples=9, scheme=scheme)
    b = bootstrap.draw(7, 50, n_runs=4, n_refs=4, n_examples=9, scheme=scheme)
    for x, y in zip((a.runs, a.refs, a.examples, a.noise_seeds),
                    (b.runs, b.refs, b.examples, b.noise_seeds)):
        assert np.array_equal(x, y)
    assert a.runs.shape == (50, 4) and a.refs.shape == (50, 4) and a.resamples == 50
    # weights of mean 1 per replicate: as many "draws" as items
    np.testing.assert_allclose(a.examples.sum(axis=1), 9)
    np.testing.assert_allclose(a.runs.sum(axis=1), 4)
    assert not np.array_equal(a.runs, bootstrap.draw(8, 50, 4, 4, 9, scheme).runs)
    # more reference models: the run and example draws stay as they were
    c = bootstrap.draw(7, 50, n_runs=4, n_refs=6, n_examples=9, scheme=scheme)
    assert np.array_equal(a.runs, c.runs) and np.array_equal(a.examples, c.examples)


def test_multinomial_weights_are_draw_counts_and_bayesian_weights_are_positive():
    m = bootstrap.draw(0, 200, 5, 5, 5, "multinomial")
    assert np.array_equal(m.runs, np.round(m.runs)) and (m.runs == 0).any()
    bay = bootstrap.draw(0, 200, 5, 5, 5, "bayesian")
    assert (bay.runs > 0).all()
    # same variance per weight: (n − 1) / n for the multinomial, (n − 1) / (n + 1) · ... ≈ close
    assert abs(m.runs.var() - bay.runs.var()) < 0.2


@pytest.mark.parametrize("resamples, level, message", [
    (0, 0.95, "resamples: must be ≥ 1, got 0"),
    (2.5, 0.95, "resamples: expected int, got float 2.5"),
    (10, 1.0, "level: must lie strictly between 0 and 1"),
    (10, 0.0, "level: must lie strictly between 0 and 1"),
])
def test_bad_settings_are_named(resamples, level, message):
    with pytest.raises(ValueError, match=message):
        bootstrap.check_settings(resamples, level)
    with pytest.raises(ValueError, match="scheme: must be one of 'bayesian', 'multinomial', got 'jackknife'"):
        bootstrap.check_settings(10, 0.95, "jackknife")


def test_percentile_interval_contains_the_point_and_says_when_widened():
    reps = np.arange(1001) / 1000.0
    (lo, hi), extended = bootstrap.percentile_interval(reps, 0.95, 0.5)
    assert (lo, hi) == pytest.approx((0.025, 0.975)) and not extended
    (lo, hi), extended = bootstrap.percentile_interval(reps, 0.95, 0.99)
    assert hi == 0.99 and extended
    (lo, hi), extended = bootstrap.percentile_interval(np.full(20, 0.3), 0.9, 0.3)
    assert lo == hi == 0.3 and not extended            # no variance, no width
    with pytest.raises(ValueError, match="finite"):
        bootstrap.percentile_interval([0.1, np.nan], 0.95)


def test_weighted_means_and_score_replicates_by_hand():
    per_example = np.array([[1.0, 0.0, 0.5], [0.2, 0.2, 0.2]])
    counts = np.array([[2, 0, 1], [0, 3, 0]])
    assert bootstrap.weighted_means(per_example, counts) == pytest.approx([2.5 / 3, 0.2])
    # weights: run 0 twice / runs 1 and 0; refs 1 twice / refs 0 and 1
    d = bootstrap.Draws(runs=np.array([[2, 0], [1, 1]]), refs=np.array([[0, 2], [1, 1]]),
                        examples=counts, noise_seeds=np.zeros(2, int))
    got = bootstrap.score_replicates([0.5, 1.0], d, retain_u=[0.8, 0.4], test_u=[0.6, 0.2],
                                     retain_r=[0.5, 1.0], test_r=[0.4, 0.8], resample_refs=True)
    assert got == pytest.approx([0.5 * (0.8 / 1.0) * (0.6 / 0.8),
                                 1.0 * (0.6 / 0.75) * (0.4 / 0.6)])
    fixed = bootstrap.score_replicates([0.5, 1.0], d, [0.8, 0.4], [0.6, 0.2], [0.5], [0.4],
                                       resample_refs=False)
    assert fixed == pytest.approx([0.5 * (0.8 / 0.5) * (0.6 / 0.4),
                                   1.0 * (0.6 / 0.5) * (0.4 / 0.4)])


def test_prob_beats_separated_identical_and_ties():
    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    assert bootstrap.prob_beats(a + 10, a) == 1.0
    assert bootstrap.prob_beats(a, a + 10) == 0.0
    assert bootstrap.prob_beats(a, a.copy()) == 0.5
    assert bootstrap.prob_beats([1, 2, 3, 4], [1, 1, 5, 5]) == pytest.approx((1 + 0.5) / 4)


def test_ranks_prob_best_and_rank_interval():
    scores = np.array([[3.0, 1.0, 2.0, 2.0],     # method 0
                       [2.0, 2.0, 2.0, 1.0],     # method 1
                       [1.0, 3.0, 2.0, 0.0]])    # method 2
    r = bootstrap.ranks(scores)
    assert r.tolist() == [[1, 3, 1, 1], [2, 2, 1, 2], [3, 1, 1, 3]]
    p = bootstrap.prob_best(scores, [True, True, True])
    assert p == pytest.approx([(1 + 1 / 3 + 1) / 4, (1 / 3) / 4, (1 + 1 / 3) / 4])
    assert p.sum() == pytest.approx(1.0)
    p = bootstrap.prob_best(scores, [False, True, True])     # method 0 is a calibration row
    assert p[0] == 0 and p.sum() == pytest.approx(1.0)
    assert bootstrap.rank_interval([1] * 50 + [2] * 50, 0.95) == [1, 2]
    assert bootstrap.rank_interval([3] * 100, 0.95) == [3, 3]


def test_groups_break_only_where_resolved():
    assert bootstrap.resolved_groups([0.99, 0.6, 0.5, 0.98], 0.975) == [0, 1, 1, 1, 2]
    assert bootstrap.resolved_groups([], 0.975) == [0]
    s = np.array([np.full(100, 3.0), np.full(100, 1.0), np.full(100, 1.0)])
    out = bootstrap.rank_summary(s, [False, False, False], 0.95)
    assert out["group"] == [0, 1, 1] and out["p_beats_next"] == [1.0, 0.5, None]
    assert out["p_best"] == [1.0, 0.0, 0.0] and out["rank_ci"] == [[1, 1], [2, 2], [2, 2]]


def test_ratio_interval_handles_zero_denominators():
    num, den = np.linspace(0.1, 0.2, 100), np.full(100, 0.2)
    lo, hi = bootstrap.ratio_interval(num, den, 0.9)
    assert 0.5 < lo < hi < 1.0
    den_some_zero = den.copy()
    den_some_zero[-10:] = 0.0                 # 10% of replicates divide by 0: unbounded
    assert bootstrap.ratio_interval(num, den_some_zero, 0.9)[1] is None
    assert bootstrap.ratio_interval(np.zeros(10), np.zeros(10), 0.9) is None
