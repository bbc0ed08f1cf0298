"""The competition metric on bootstrap resamples (unlearn/scoring/bootstrap_official.py) equals
`official_epsilons` run on the resampled confidences, replicate by replicate."""
import numpy as np
import pytest

from unlearn.scoring import bootstrap
from unlearn.scoring.bootstrap_official import (_grid_count, _linspace_at, official_quality_replicates,
                                        resampled_official_epsilons)
from unlearn.scoring.official import official_epsilons, official_forget_quality


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


def test_linspace_inverse_is_exact():
    rng = np.random.default_rng(0)
    for num in (0, 1, 2, 3, 17, 400, 1234):
        lo = rng.normal(0, 5)
        hi = lo + abs(rng.normal(0, 5))
        grid = np.linspace(lo, hi, num)
        assert np.array_equal(_linspace_at(lo, hi, num, np.arange(num)), grid)
        v = np.concatenate([grid, np.nextafter(grid, -np.inf), np.nextafter(grid, np.inf),
                            rng.uniform(lo - 1, hi + 1, 200), [lo - 10, hi + 10]])
        want = np.searchsorted(grid, v, side="right")            # #grid points <= v
        assert np.array_equal(_grid_count(v, lo, hi, num), want), num


@pytest.mark.parametrize("n, decimals, seed", [(3, None, 0), (5, None, 1), (8, None, 2),
                                               (6, 1, 3), (4, 2, 4), (16, None, 5)])
def test_resampled_epsilons_equal_the_metric_on_resampled_models(n, decimals, seed):
    u, r = confs(n, 24, seed, decimals)
    d = bootstrap.draw(seed, 12, n, n, 24)
    fast = resampled_official_epsilons(u, r, d.runs, d.refs)
    for b in range(d.resamples):
        want = official_epsilons(u[d.runs[b]], r[d.refs[b]])
        assert np.array_equal(fast[b], want), (b, np.flatnonzero(fast[b] != want))


def test_examples_mask_and_weights_give_the_metric_on_resampled_examples():
    u, r = confs(6, 20, 9)
    d = bootstrap.draw(3, 8, 6, 6, 20)
    f = official_quality_replicates(u, r, d)
    for b in range(d.resamples):
        ex = np.repeat(np.arange(20), d.example_counts[b])    # the drawn examples, repeats kept
        want = official_forget_quality(u[d.runs[b]][:, ex], r[d.refs[b]][:, ex])
        assert f[b] == pytest.approx(want, abs=1e-12)


def test_identical_models_give_a_zero_width_interval():
    u = np.tile(np.linspace(-2, 2, 10), (5, 1))      # every model the same: nothing to resample
    d = bootstrap.draw(0, 30, 5, 5, 10)
    f = official_quality_replicates(u, u.copy(), d)
    point = official_forget_quality(u, u.copy())
    (lo, hi), extended = bootstrap.percentile_interval(f, 0.95, point)
    assert lo == hi == point and not extended
