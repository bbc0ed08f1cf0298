"""Tests of the competition metric (docs/scoring.md#official-score): closed forms, and the fast
ε against a literal one."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from unlearn.scoring import official as so
from unlearn.scoring.local import (logit_scaled_confidence, official_bucket_count, official_epsilons,
                             official_forget_quality, official_quality_from_epsilons)


def literal_official_epsilons(u, r, delta=1e-5, cap=50.0, ratio=0.01, grid=100, buffer=2.0,
                              n_left=400, strict_single=False, strict_double=False):
    """docs/scoring.md#per-example-epsilon-official word for word: every rule of both
    families, counted by dense comparison.
    strict_*: the wrong inequalities (c > t; l < c < r), to show that tests see the difference."""
    ge = np.greater if strict_single else np.greater_equal
    le = np.less if strict_double else np.less_equal
    u, r = np.asarray(u, float), np.asarray(r, float)
    n = u.shape[0]
    out = []
    for i in range(u.shape[1]):
        pos, neg = (r[:, i], u[:, i]) if np.median(r[:, i]) > np.median(u[:, i]) else (u[:, i], r[:, i])
        dp, dn = pos.max() - pos.min(), neg.max() - neg.min()
        if max(dp, dn) > 0 and min(dp, dn) / max(dp, dn) < ratio:
            out.append(cap)
            continue
        both = np.concatenate([pos, neg])
        t = np.linspace(both.min(), both.max(), int(np.ceil((both.max() - both.min()) * grid)))
        fprs = [np.sum(ge(neg[:, None], t), axis=0) / n]       # dense N x thresholds
        fnrs = [np.sum(~ge(pos[:, None], t), axis=0) / n]
        p2, n2 = (neg, pos) if dp >= dn else (pos, neg)
        w = min(dp, dn)
        lo, hi = p2.min() + w - buffer, p2.max() + buffer
        rights = np.linspace(lo, hi, int(np.ceil((hi - lo) * grid)))
        lefts = np.array([np.linspace(rt - w - buffer, rt - w + buffer, n_left) for rt in rights])
        step = max(1, 2 ** 21 // (n * n_left))                # rows per dense N x rows x lefts tile
        for j in range(0, len(rights), step):
            lt, rt = lefts[j:j + step][None], rights[j:j + step, None][None]
            in_p = le(lt, p2[:, None, None]) & le(p2[:, None, None], rt)
            in_n = le(lt, n2[:, None, None]) & le(n2[:, None, None], rt)
            fprs.append((in_n.sum(0) / n).ravel())
            fnrs.append(((n - in_p.sum(0)) / n).ravel())
        fpr, fnr = np.concatenate(fprs), np.concatenate(fnrs)
        eps = [0.0]       # all rules discarded -> 0 (the reference crashes)
        if np.any((fpr == 0) & (fnr == 0)):
            eps.append(np.inf)
        keep = (fpr > 0) & (fnr > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            e = np.fmax(np.log(1 - delta - fpr[keep]) - np.log(fnr[keep]),
                        np.log(1 - delta - fnr[keep]) - np.log(fpr[keep]))
        eps.extend(e[~np.isnan(e)])
        out.append(min(max(eps), cap))
    return np.array(out)


def test_logit_scaled_confidence_by_hand_and_extremes():
    logits = np.array([[1.0, 2.0, 0.0], [5.0, 5.0, 5.0]])
    p = np.exp(logits[0]) / np.exp(logits[0]).sum()
    want0 = math.log(p[1] + 1e-45) - math.log(p[0] + p[2] + 1e-45)
    got = logit_scaled_confidence(logits, np.array([1, 0]))
    assert got == pytest.approx([want0, math.log(1 / 3) - math.log(2 / 3)], abs=1e-12)
    ext = logit_scaled_confidence(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]]), np.array([0, 0]))
    assert np.isfinite(ext).all() and ext[0] > 100 and ext[1] < -100
    stacked = logit_scaled_confidence(np.stack([logits, logits + 3.0]), np.array([1, 0]))
    assert stacked.shape == (2, 2) and np.allclose(stacked[0], stacked[1])


def test_logit_scaled_confidence_rejects_bad_input():
    with pytest.raises(ValueError, match="labels"):
        logit_scaled_confidence(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="logits"):
        logit_scaled_confidence(np.array([[np.nan, 0.0]]), np.array([0]))


def test_identical_distributions_give_zero():
    c = np.linspace(-3, 3, 10)[:, None] * np.ones((1, 4))
    eps = official_epsilons(c, c.copy())
    assert np.array_equal(eps, np.zeros(4))
    assert official_forget_quality(c, c.copy()) == 1.0          # every ε in bucket 0, worth 2^0


def test_separated_distributions_hit_cap_and_score_zero():
    rng = np.random.default_rng(0)
    u, r = rng.normal(size=(10, 3)), rng.normal(size=(10, 3)) + 20
    f, eps = official_forget_quality(u, r, return_epsilons=True)
    assert np.array_equal(eps, np.full(3, 50.0)) and f == 0.0


def test_peaky_distribution_is_capped():
    u = np.linspace(0, 1, 10)[:, None]
    r = 0.5 + np.linspace(0, 0.009, 10)[:, None]          # range ratio 0.009 < 1%
    assert official_epsilons(u, r)[0] == 50.0
    # ratio 1.1%: not peaky, so the rules decide; with u interleaved they cannot separate fully
    u2 = np.concatenate([np.linspace(0.5, 0.511, 5), np.linspace(0, 1, 5)])[:, None]
    r2 = 0.5 + np.linspace(0, 0.011, 10)[:, None]
    got = official_epsilons(u2, r2)[0]
    assert got < 50.0 and got == pytest.approx(literal_official_epsilons(u2, r2)[0], abs=1e-9)
    # a ratio of exactly 1% is not peaky (strict <)
    u3, r3 = np.array([[0.0], [1.0], [0.005]]), np.array([[0.0], [0.01], [0.005]])
    assert official_epsilons(u3, r3)[0] < 50.0


def test_hand_computed_rates():
    # u = {0, 1, 2, 3}, r = {2.5, 3.5, 4.5, 5.5}: pos = r. Best rules leave one of each side
    # wrong, e.g. c >= t for t in (2.5, 3]: FPR = 1/4 (u's 3), FNR = 1/4 (r's 2.5); any rule
    # with fewer errors has FPR or FNR 0 and is discarded. ε = log(1 - d - 1/4) - log(1/4).
    u, r = np.arange(4.0)[:, None], np.array([2.5, 3.5, 4.5, 5.5])[:, None]
    d = 1e-5
    want = math.log(1 - d - 0.25) - math.log(0.25)
    assert official_epsilons(u, r, delta=d)[0] == pytest.approx(want, abs=1e-12)
    assert official_epsilons(u, r, delta=0.1)[0] == pytest.approx(math.log(2.6), abs=1e-12)
    # a known pair: 1 FP and 3 FN out of 4 -> max(log(1-d-1/4) - log(3/4), log(1-d-3/4) - log(1/4))
    e = so._rule_eps(np.array([3]), np.array([1]), 4, 4, d)[0]
    assert e == pytest.approx(max(math.log(0.75 - d) - math.log(0.75), math.log(0.25 - d) - math.log(0.25)))
    assert so._rule_eps(np.array([0, 0, 2]), np.array([0, 1, 0]), 4, 4, d).tolist() == [np.inf, -np.inf, -np.inf]


def test_ties_at_threshold_values():
    # Single family, grid linspace(0, 1, 100): u holds a conf exactly on threshold g[75], r one
    # between g[75] and g[76]. c >= t cannot split them (ε = 0); c > t could (ε = log 2).
    g = np.linspace(0.0, 1.0, 100)
    u, r = np.array([[0.0], [g[75]], [1.0]]), np.array([[0.0], [(g[75] + g[76]) / 2], [1.0]])
    assert official_epsilons(u, r)[0] == 0.0 == literal_official_epsilons(u, r)[0]
    assert literal_official_epsilons(u, r, strict_single=True)[0] > 0.69
    # Double family: pos2 = {0..1} (smaller range, width 1), right grid linspace(-1, 3, 400);
    # confs sit on right thresholds, so l <= c <= r (not l < c < r) decides ε.
    rg = np.linspace(-1.0, 3.0, 400)
    p2 = np.array([0.0, rg[110], rg[175], rg[118], 1.0])[:, None]
    n2 = np.array([-0.5, rg[90], rg[200], rg[68], 1.5])[:, None]
    want = literal_official_epsilons(p2, n2)
    assert want[0] == pytest.approx(1.38628186, abs=1e-7)
    assert literal_official_epsilons(p2, n2, strict_double=True)[0] == 50.0
    np.testing.assert_allclose(official_epsilons(p2, n2), want, atol=1e-9)


def test_median_tie_makes_unlearned_pos():
    # equal medians (0): the reference's strict `>` makes the unlearned sample "pos"; the other
    # choice changes ε here, so this pins the tie rule.
    u, r = np.array([[-3.0], [1.0], [0.0]]), np.array([[-1.0], [0.0], [3.0]])
    assert official_epsilons(u, r)[0] == 0.0
    assert official_epsilons(r, u)[0] == pytest.approx(literal_official_epsilons(r, u)[0], abs=1e-12)
    assert official_epsilons(r, u)[0] > 0.5


def test_bucket_count_and_quality_from_epsilons():
    assert official_bucket_count(10) == 6 and official_bucket_count(512) == 14
    assert official_bucket_count(3) == 2 and official_bucket_count(2) == 0
    # N = 10: six buckets; 0.49 -> 1, 0.5 -> 1/2, 2.9 -> 1/32, 3.0 -> beyond the last -> 0
    f = official_quality_from_epsilons([0.49, 0.5, 2.9, 3.0], 10)
    assert f == pytest.approx((1 + 0.5 + 1 / 32 + 0) / 4)
    with pytest.raises(ValueError, match="n_models"):
        official_bucket_count(1)


def test_validation_names_the_argument():
    with pytest.raises(ValueError, match="unlearned_confs.*retrained_confs"):
        official_epsilons(np.zeros((4, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="N >= 2"):
        official_epsilons(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="retrained_confs"):
        official_epsilons(np.zeros((3, 2)), np.full((3, 2), np.nan))


_values = st.one_of(
    st.sampled_from([0.0, 0.01, 0.02, 0.5, 1.0, 1.005, -0.3, 2.0]),   # ties, grid hits
    st.floats(-3, 3, allow_nan=False).map(lambda x: round(x, 2)),
    st.floats(-0.05, 0.05, allow_nan=False),                             # small ranges
)


@st.composite
def _pairs(draw):
    n, s = draw(st.integers(3, 12)), draw(st.integers(1, 4))
    u = np.array(draw(st.lists(_values, min_size=n * s, max_size=n * s))).reshape(n, s)
    r = np.array(draw(st.lists(_values, min_size=n * s, max_size=n * s))).reshape(n, s)
    if draw(st.booleans()):
        r = r + draw(st.sampled_from([0.0, 0.01, 0.3, 1.0]))
    return u, r


@settings(max_examples=80, deadline=None)
@given(_pairs())
def test_fast_equals_literal(pair):
    u, r = pair
    np.testing.assert_allclose(official_epsilons(u, r), literal_official_epsilons(u, r),
                               rtol=0, atol=1e-9)


_RG = np.linspace(-1.0, 3.0, 400)          # the right grid when pos2 spans [0, 1] (width 1)
_OUTER = np.r_[_RG[(_RG > -0.5) & (_RG < 1.5)], np.linspace(-0.5, 1.5, 200)]
_INNER = _OUTER[(_OUTER > 0) & (_OUTER < 1)]


@st.composite
def _nested_pairs(draw):
    """A narrow sample inside a wide one (the double family decides), confs on grid points."""
    n, s = draw(st.integers(3, 10)), draw(st.integers(1, 3))
    us, rs = [], []
    for _ in range(s):
        inner = [0.0, 1.0] + draw(st.lists(st.sampled_from(_INNER), min_size=n - 2, max_size=n - 2))
        outer = [-0.5, 1.5] + draw(st.lists(st.sampled_from(_OUTER), min_size=n - 2, max_size=n - 2))
        us.append(inner), rs.append(outer)
    u, r = np.array(us).T, np.array(rs).T
    return (u, r) if draw(st.booleans()) else (r, u)


@settings(max_examples=60, deadline=None)
@given(_nested_pairs())
def test_fast_equals_literal_nested(pair):
    u, r = pair
    np.testing.assert_allclose(official_epsilons(u, r), literal_official_epsilons(u, r),
                               rtol=0, atol=1e-9)
