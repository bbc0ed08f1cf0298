"""The competition metric over weighted models (unlearn/scoring/official.py) on bootstrap
replicates: integer weights are exactly the metric on the resampled (copied) models, example
weights exactly the metric on the resampled examples, and any weighting is the engine's own
function of that weighting."""
import numpy as np
import pytest

from unlearn.scoring import bootstrap
from unlearn.scoring.official import official_epsilons, official_forget_quality
from unlearn.scoring.official_rules import grid_count, linspace_at
from unlearn.scoring.replicates import official_quality_replicates


def confs(n, s, seed, decimals=None):
    """Overlapping, shifted, peaky and separated examples (as bench/metric.py), optionally
    rounded so that values tie and land on threshold grids."""
    rng = np.random.default_rng(seed)
    mu, sigma = rng.normal(2, 2, s), rng.uniform(0.3, 3, s)
    r = mu + sigma * rng.standard_normal((n, s))
    u = mu + rng.normal(0, 0.5, s) * sigma + rng.uniform(0.7, 1.3, s) * sigma * \
        rng.standard_normal((n, s))
    u[:, ::7] = u[:, ::7] * 1e-3 + mu[::7]           # peaky
    u[:, 3::11] += 30.0                              # separated
    if decimals is not None:
        u, r = np.round(u, decimals), np.round(r, decimals)
    return u, r


def copies(weights):
    """Model indices that a row of integer weights stands for (weight k: k copies)."""
    return np.repeat(np.arange(weights.size), weights.astype(int))


def test_linspace_inverse_is_exact():
    rng = np.random.default_rng(0)
    for num in (0, 1, 2, 3, 17, 400, 1234):
        lo = rng.normal(0, 5)
        hi = lo + abs(rng.normal(0, 5))
        grid = np.linspace(lo, hi, num)
        assert np.array_equal(linspace_at(lo, hi, num, np.arange(num)), grid)
        v = np.concatenate([grid, np.nextafter(grid, -np.inf), np.nextafter(grid, np.inf),
                            rng.uniform(lo - 1, hi + 1, 200), [lo - 10, hi + 10]])
        want = np.searchsorted(grid, v, side="right")            # #grid points <= v
        assert np.array_equal(grid_count(v, lo, hi, num), want), num


@pytest.mark.parametrize("n, decimals, seed", [(3, None, 0), (5, None, 1), (8, None, 2),
                                               (6, 1, 3), (4, 2, 4), (16, None, 5)])
def test_integer_weights_are_the_metric_on_copied_models(n, decimals, seed):
    u, r = confs(n, 24, seed, decimals)
    d = bootstrap.draw(seed, 12, n, n, 24, "multinomial")
    eps = official_epsilons(u, r, weights_u=d.runs, weights_r=d.refs)
    for b in range(d.resamples):
        want = official_epsilons(u[copies(d.runs[b])], r[copies(d.refs[b])])
        assert np.array_equal(eps[b], want), (b, np.flatnonzero(eps[b] != want))


def test_example_weights_are_the_metric_on_resampled_examples():
    u, r = confs(6, 20, 9)
    d = bootstrap.draw(3, 8, 6, 6, 20, "multinomial")
    f = official_quality_replicates(u, r, d, delta=1e-5)
    for b in range(d.resamples):
        ex = copies(d.examples[b])                 # the drawn examples, repeats kept
        want = official_forget_quality(u[copies(d.runs[b])][:, ex], r[copies(d.refs[b])][:, ex])
        assert f[b] == pytest.approx(want, abs=1e-12)


def test_bayesian_replicates_are_the_engine_row_by_row_and_scale_free():
    u, r = confs(5, 16, 11, decimals=1)
    d = bootstrap.draw(0, 6, 5, 5, 16, "bayesian")
    assert (d.runs > 0).all() and np.allclose(d.runs.mean(axis=1), 1)
    eps = official_epsilons(u, r, weights_u=d.runs, weights_r=d.refs)
    for b in range(d.resamples):
        one = official_epsilons(u, r, weights_u=d.runs[b], weights_r=d.refs[b])
        assert np.array_equal(eps[b], one)
        scaled = official_epsilons(u, r, weights_u=3 * d.runs[b], weights_r=3 * d.refs[b])
        np.testing.assert_allclose(scaled, one, rtol=0, atol=1e-12)
    # unit weights are the metric itself
    assert np.array_equal(official_epsilons(u, r, weights_u=np.ones(5), weights_r=np.ones(5)),
                          official_epsilons(u, r))


def test_identical_models_give_a_zero_width_interval():
    u = np.tile(np.linspace(-2, 2, 10), (5, 1))      # every model the same: nothing to resample
    point = official_forget_quality(u, u.copy())
    for scheme in bootstrap.SCHEMES:
        d = bootstrap.draw(0, 30, 5, 5, 10, scheme)
        f = official_quality_replicates(u, u.copy(), d, delta=1e-5)
        (lo, hi), extended = bootstrap.percentile_interval(f, 0.95, point)
        assert lo == hi == point and not extended


def test_bad_weights_are_named():
    u, r = confs(4, 3, 0)
    with pytest.raises(ValueError, match="weights_u: expected"):
        official_epsilons(u, r, weights_u=np.ones(3))
    with pytest.raises(ValueError, match="weights_r: weights must be >= 0"):
        official_epsilons(u, r, weights_r=np.zeros(4))
