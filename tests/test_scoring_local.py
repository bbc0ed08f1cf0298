"""Tests of the study's local Kaggle scorer, the final score and NoMUS (docs/scoring.md)."""
import math

import numpy as np
import pytest
from sklearn import linear_model, model_selection
from sklearn.metrics import make_scorer

from unlearn.scoring import local as scoring
from unlearn.scoring.local import (final_score, local_epsilons, local_forget_quality, local_noise_std,
                             local_statistic, noisy_retrained_statistics, nomus,
                             per_example_cross_entropy)


def notebook_epsilons(u, r, delta=0.01):
    """The Kaggle notebook's forgetting_quality inner loop, transcribed (cross_validate and all)."""
    def fpr_fn(y, p):
        return np.sum((p == 1) & (y == 0)) / np.sum(y == 0)

    def fnr_fn(y, p):
        return np.sum((p == 0) & (y == 1)) / np.sum(y == 1)

    scoring_ = {"fpr": make_scorer(fpr_fn), "fnr": make_scorer(fnr_fn)}
    out = []
    for i in range(u.shape[1]):
        samples = np.concatenate((r[:, i], u[:, i]))
        labels = np.array([0] * len(r) + [1] * len(u))
        fprs, fnrs = [], []
        for t in sorted(list(samples)):
            pred = (samples > t).astype(int)
            fprs.append(fpr_fn(labels, pred))
            fnrs.append(fnr_fn(labels, pred))
        cv = model_selection.StratifiedShuffleSplit(n_splits=3, random_state=0)
        sc = model_selection.cross_validate(linear_model.LogisticRegression(), samples[:, None],
                                            labels, cv=cv, scoring=scoring_)
        fprs.append(np.mean(sc["test_fpr"]))
        fnrs.append(np.mean(sc["test_fnr"]))
        per = [0.0]
        for a, b in zip(fprs, fnrs):
            if a == 0 and b == 0:
                per.append(np.inf)
            elif a == 0 or b == 0:
                continue
            else:
                with np.errstate(invalid="ignore"):
                    e1, e2 = np.log(1 - delta - a) - np.log(b), np.log(1 - delta - b) - np.log(a)
                per.append(np.inf if np.isnan(e1) and np.isnan(e2) else np.nanmax([e1, e2]))
        out.append(np.nanmax(per))
    return np.array(out)


def test_local_statistic_is_ce_against_own_argmax():
    x = np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 3.0]])
    want = [math.log(math.exp(1) + math.exp(2) + 1) - 2, math.log(2 * math.exp(3) + math.exp(-1)) - 3]
    assert local_statistic(x) == pytest.approx(want, abs=1e-12)
    assert local_statistic(np.stack([x, x])).shape == (2, 2)
    assert np.isfinite(local_statistic(np.array([[1e4, -1e4]]))).all()


def test_per_example_cross_entropy():
    x = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    want = [math.log(math.exp(1) + math.exp(2) + 1) - 1, math.log(3)]
    assert per_example_cross_entropy(x, np.array([0, 2])) == pytest.approx(want, abs=1e-12)
    with pytest.raises(ValueError, match="labels"):
        per_example_cross_entropy(x, np.array([0]))


def test_noise_is_seeded_and_scaled():
    logits = np.random.default_rng(0).normal(size=(5, 4))
    a = noisy_retrained_statistics(logits, 7, 0.3, seed=1)
    assert a.shape == (7, 5) and np.array_equal(a, noisy_retrained_statistics(logits, 7, 0.3, seed=1))
    assert not np.array_equal(a, noisy_retrained_statistics(logits, 7, 0.3, seed=2))
    assert np.allclose(noisy_retrained_statistics(logits, 3, 0.0, seed=0), local_statistic(logits))
    stats = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert local_noise_std(stats) == pytest.approx(np.std([1, 2, 3, 4]) / 10)
    with pytest.raises(ValueError, match="n_copies"):
        noisy_retrained_statistics(logits, 0, 0.1, seed=0)


def test_attack_epsilon_rules():
    d = 0.01
    e = scoring._attack_eps([0.0, 0.0, 0.3, 1.0, 0.2], [0.0, 0.4, 0.0, 1.0, 0.1], d)
    assert e[0] == np.inf            # FPR = FNR = 0
    assert e[1] == e[2] == -np.inf   # exactly one zero: discarded
    assert e[3] == np.inf            # both logs NaN (FPR, FNR > 1 - δ): the notebook's +inf
    want = max(math.log(1 - d - 0.2) - math.log(0.1), math.log(1 - d - 0.1) - math.log(0.2))
    assert e[4] == pytest.approx(want)


def test_local_epsilons_start_from_zero_and_hit_inf():
    rng = np.random.default_rng(0)
    same = rng.normal(size=(10, 3))
    assert np.array_equal(local_epsilons(same, same.copy()), np.zeros(3))  # nothing beats [0]
    low, high = rng.normal(size=(10, 2)), rng.normal(size=(10, 2)) + 50
    assert np.all(local_epsilons(high, low) == np.inf)   # unlearned > t >= all retrained
    assert np.all(local_epsilons(low, high) == np.inf)   # reversed: threshold FPR = FNR = 1


def test_local_epsilons_equal_the_notebook():
    rng = np.random.default_rng(3)
    u = rng.normal(size=(12, 6)) * rng.uniform(0.5, 2, 6)
    r = rng.normal(size=(12, 6)) + rng.uniform(-1, 1, 6)
    u[:, 5] = np.round(u[:, 5])          # ties among thresholds
    r[:, 5] = np.round(r[:, 5])
    np.testing.assert_allclose(local_epsilons(u, r), notebook_epsilons(u, r), rtol=0, atol=1e-12)


def test_local_epsilons_validation():
    with pytest.raises(ValueError, match="local_epsilons"):
        local_epsilons(np.zeros((5, 2)), np.ones((5, 2)))        # 10 samples: test split of 1
    with pytest.raises(ValueError, match="retrained_stats"):
        local_epsilons(np.zeros((8, 2)), np.zeros((8, 3)))


def test_local_forget_quality_digitize():
    # digitize against 0, 0.5, …, 6: n = 1 for [0, 0.5), 2 for [0.5, 1), 13 from 6 on
    assert local_forget_quality([0.0]) == 1.0
    assert local_forget_quality([0.49]) == 1.0
    assert local_forget_quality([0.5]) == 0.5
    assert local_forget_quality([6.0, np.inf]) == 2 / 2 ** 13
    assert local_forget_quality([0.0, 1.2]) == pytest.approx((1 + 2 / 8) / 2)
    with pytest.raises(ValueError, match="epsilons"):
        local_forget_quality([np.nan])


def test_final_score():
    assert final_score(0.5, 0.8, 0.6, 0.8, 0.5) == pytest.approx(0.5 * 1.0 * 1.2)
    assert final_score(0.1, [0.7, 0.9], [0.5, 0.7], 0.8, [0.6]) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="retain_acc_r"):
        final_score(0.1, 0.5, 0.5, 0.0, 0.5)


def test_nomus_separable_and_identical():
    rng = np.random.default_rng(0)
    forget, unseen = rng.uniform(0, 1, 40), rng.uniform(5, 6, 50)
    res = nomus(0.6, forget, unseen)
    assert res["mia"] == 1.0 and res["nomus"] == pytest.approx(0.3) and res["n_pairs"] == 40
    same = nomus(0.6, np.ones(40), np.ones(40))
    assert same["mia"] == 0.5 and same["nomus"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="test_acc"):
        nomus(1.5, forget, unseen)
    with pytest.raises(ValueError, match="forget_losses"):
        nomus(0.5, [np.nan] * 10, unseen)
