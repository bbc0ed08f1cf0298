"""The local scorer over weighted runs (unlearn/scoring/local.py, local_attacks.py) against
scikit-learn and on bootstrap replicates."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit

from unlearn.scoring import bootstrap
from unlearn.scoring.local import (_attack_eps, local_epsilons, local_forget_quality,
                                   local_noise_std, local_statistic, noisy_retrained_statistics)
from unlearn.scoring.local_attacks import fit_logistic_1d, threshold_rates
from unlearn.scoring.replicates import local_quality_replicates


def stats(n, s, seed):
    rng = np.random.default_rng(seed)
    u = rng.normal(0, 1, (n, s)) * rng.uniform(0.1, 2, s) + rng.normal(0, 1, s)
    r = rng.normal(0, 1, (n, s)) * rng.uniform(0.1, 2, s)
    u[:, :10], r[:, :10] = np.round(u[:, :10], 1), np.round(r[:, :10], 1)   # ties
    return u, r


def sklearn_epsilons(u, r, test_size, delta=0.01):
    """The scorer with scikit-learn's LogisticRegression for the second attack (the notebook's
    fit; tests/test_scoring_local.py transcribes the notebook itself at N = 12)."""
    n = u.shape[0]
    y = np.repeat([0, 1], n)
    splits = list(StratifiedShuffleSplit(3, test_size=test_size, random_state=0)
                  .split(np.zeros((2 * n, 1)), y))
    out = []
    for i in range(u.shape[1]):
        x = np.concatenate([r[:, i], u[:, i]])[:, None]
        fpr, fnr = threshold_rates(r[None, :, i], u[None, :, i], np.ones((1, n)), np.ones((1, n)))
        lr = [LogisticRegression().fit(x[tr], y[tr]).predict(x[te]) for tr, te in splits]
        lr_fpr = np.mean([np.mean(p[y[te] == 0] == 1) for p, (_, te) in zip(lr, splits)])
        lr_fnr = np.mean([np.mean(p[y[te] == 1] == 0) for p, (_, te) in zip(lr, splits)])
        eps = _attack_eps(np.append(fpr, lr_fpr), np.append(fnr, lr_fnr), delta)
        out.append(max(0.0, float(eps.max())))
    return np.array(out)


def test_newton_fit_matches_sklearn_logistic_regression_with_weights():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (15, 12)) + np.repeat([[0.0] * 6 + [1.0] * 6], 15, axis=0)
    y = np.repeat([0, 1], 6)
    a = rng.uniform(0.2, 2.0, (15, 12))
    for weights in (None, a):
        w, b = fit_logistic_1d(x, y, weights)
        for k in range(x.shape[0]):
            m = LogisticRegression().fit(x[k][:, None], y,
                                         sample_weight=None if weights is None else a[k])
            assert w[k] == pytest.approx(m.coef_[0, 0], abs=2e-3)
            assert b[k] == pytest.approx(m.intercept_[0], abs=2e-3)


@pytest.mark.parametrize("n, test_size, min_agree", [(10, None, 1.0), (5, 2, 1.0), (3, 2, 0.98)])
def test_the_scorer_agrees_with_sklearn(n, test_size, min_agree):
    """Exact agreement except where a test point lies within sklearn's solver tolerance of the
    boundary, which at N = 3 (4 training points, weight near 0) happens about once in 300."""
    u, r = stats(n, 150, n)
    assert np.mean(local_epsilons(u, r, test_size=test_size)
                   == sklearn_epsilons(u, r, test_size)) >= min_agree


def test_integer_weights_in_the_threshold_attack_are_copied_models():
    u, r = stats(6, 30, 4)
    d = bootstrap.draw(1, 5, 6, 6, 30, "multinomial")
    for b in range(d.resamples):
        idx_u = np.repeat(np.arange(6), d.runs[b].astype(int))
        idx_r = np.repeat(np.arange(6), d.refs[b].astype(int))
        got = threshold_rates(r.T, u.T, np.tile(d.refs[b], (30, 1)), np.tile(d.runs[b], (30, 1)))
        want = threshold_rates(r[idx_r].T, u[idx_u].T, np.ones((30, 6)), np.ones((30, 6)))
        # the same rates, possibly at other thresholds: compare the sets of (FPR, FNR)
        for k in range(30):
            assert set(zip(*np.round([got[0][k], got[1][k]], 12))) >= set(
                zip(*np.round([want[0][k], want[1][k]], 12)))


@pytest.mark.parametrize("scheme", bootstrap.SCHEMES)
def test_replicate_is_the_scorer_with_its_weights_and_fresh_noise(scheme):
    rng = np.random.default_rng(2)
    u_logits = rng.normal(0, 2, (5, 15, 4))
    ref = rng.normal(0, 2, (15, 4))
    u_stats = local_statistic(u_logits)
    d = bootstrap.draw(4, 6, 5, 1, 15, scheme)
    f = local_quality_replicates(u_stats, ref, d, test_size=2)
    for b in range(d.resamples):
        r_b = noisy_retrained_statistics(ref, 5, local_noise_std(u_stats, 10, d.runs[b]),
                                         int(d.noise_seeds[b]))
        want = local_epsilons(u_stats, r_b, weights_u=d.runs[b], test_size=2)
        assert f[b] == pytest.approx(local_forget_quality(want[None], d.examples[b][None])[0])
    assert len(set(d.noise_seeds.tolist())) == d.resamples       # a new noise draw each time
    # unit weights: the scorer itself, and its noise scale
    assert local_noise_std(u_stats, 10, np.ones(5)) == pytest.approx(local_noise_std(u_stats))
