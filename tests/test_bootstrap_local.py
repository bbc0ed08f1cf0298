"""The local scorer on bootstrap replicates (unlearn/scoring/bootstrap_local.py) against the scorer itself."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from unlearn.scoring import bootstrap
from unlearn.scoring.bootstrap_local import (fit_logistic_1d, local_epsilons_batch,
                                     local_quality_replicates, resampled_local_epsilons)
from unlearn.scoring.local import (local_epsilons, local_forget_quality, local_noise_std,
                             local_statistic, noisy_retrained_statistics)


def stats(n, s, seed):
    rng = np.random.default_rng(seed)
    u = rng.normal(0, 1, (n, s)) * rng.uniform(0.1, 2, s) + rng.normal(0, 1, s)
    r = rng.normal(0, 1, (n, s)) * rng.uniform(0.1, 2, s)
    u[:, :10], r[:, :10] = np.round(u[:, :10], 1), np.round(r[:, :10], 1)   # ties
    return u, r


def test_newton_fit_matches_sklearn_logistic_regression():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (15, 12)) + np.repeat([[0.0] * 6 + [1.0] * 6], 15, axis=0)
    y = np.repeat([0, 1], 6)
    w, b = fit_logistic_1d(x, y)
    for k in range(x.shape[0]):
        m = LogisticRegression().fit(x[k][:, None], y)
        assert w[k] == pytest.approx(m.coef_[0, 0], abs=2e-3)
        assert b[k] == pytest.approx(m.intercept_[0], abs=2e-3)


@pytest.mark.parametrize("n, test_size, min_agree", [(10, None, 1.0), (5, 2, 1.0), (3, 2, 0.98)])
def test_batched_epsilons_equal_the_scorer(n, test_size, min_agree):
    """Exact agreement except where a test point lies within sklearn's solver tolerance of the
    boundary, which at N = 3 (4 training points, weight near 0) happens about once in 300."""
    u, r = stats(n, 150, n)
    want = local_epsilons(u, r, test_size=test_size)
    got = local_epsilons_batch(u.T, r.T, test_size=test_size)
    assert np.mean(got == want) >= min_agree


def test_replicate_is_the_scorer_on_drawn_runs_and_fresh_noise():
    rng = np.random.default_rng(2)
    u_logits = rng.normal(0, 2, (5, 15, 4))
    ref = rng.normal(0, 2, (15, 4))
    u_stats = local_statistic(u_logits)
    d = bootstrap.draw(4, 6, 5, 1, 15)
    eps = resampled_local_epsilons(u_stats, ref, d.runs, d.noise_seeds, test_size=2)
    f = local_quality_replicates(u_stats, ref, d, test_size=2)
    for b in range(d.resamples):
        u_b = u_stats[d.runs[b]]
        r_b = noisy_retrained_statistics(ref, 5, local_noise_std(u_b), int(d.noise_seeds[b]))
        want = local_epsilons(u_b, r_b, test_size=2)
        assert np.array_equal(eps[b], want)
        ex = np.repeat(np.arange(15), d.example_counts[b])
        assert f[b] == pytest.approx(local_forget_quality(want[ex]))
    assert len(set(d.noise_seeds.tolist())) == d.resamples       # a new noise draw each time
