"""The local scorer's two attacks on weighted samples, for many problems at once. numpy only.

A problem is one example's N unlearned and N retrained statistics, each with a weight (1 in
the scorer itself; resampling weights in its intervals, unlearn/scoring/bootstrap.py):
- best threshold (`threshold_rates`): every pooled value as threshold t, "unlearned when value
  > t"; FPR = retrained weight above t / retrained weight, FNR = unlearned weight at or below
  t / unlearned weight;
- logistic regression (`logreg_rates`): sklearn's `LogisticRegression()` objective, Σ αᵢ·
  log-loss + ½·w² (C = 1, intercept not penalised, αᵢ the sample weights as sklearn's
  sample_weight), on each train split; FPR and FNR are weighted shares of the test split,
  averaged over the splits. With one feature the fit is a two-parameter strictly convex
  problem, solved to machine precision by damped Newton steps for all problems together
  (sklearn's lbfgs stops at a gradient tolerance: a test point on the fitted boundary can be
  classified differently; tests/test_scoring_local.py compares the two with the notebook).
"""
from __future__ import annotations

import numpy as np

_NEWTON_STEPS = 60


def threshold_rates(r, u, w_r, w_u):
    """FPR, FNR [K, 2N] of the rules "unlearned when value > t" for t = every pooled value;
    r, u [K, N] values, w_r, w_u [K, N] their weights (>= 0, a positive one per row and side)."""
    n = r.shape[1]
    pooled = np.concatenate([r, u], axis=1)
    weights = np.concatenate([w_r, w_u], axis=1)
    order = np.argsort(pooled, axis=1, kind="stable")
    v = np.take_along_axis(pooled, order, axis=1)
    w = np.take_along_axis(weights, order, axis=1)
    is_u = order >= n
    cum_u = np.cumsum(np.where(is_u, w, 0.0), axis=1)
    cum_r = np.cumsum(np.where(is_u, 0.0, w), axis=1)
    # counts must include every value equal to t: read them at the end of each run of ties
    k = np.arange(v.shape[1])
    end = np.concatenate([v[:, 1:] != v[:, :-1], np.ones((v.shape[0], 1), bool)], axis=1)
    last = np.minimum.accumulate(np.where(end, k, v.shape[1])[:, ::-1], axis=1)[:, ::-1]
    u_le = np.take_along_axis(cum_u, last, axis=1)
    r_le = np.take_along_axis(cum_r, last, axis=1)
    tot_u, tot_r = cum_u[:, -1:], cum_r[:, -1:]
    return (tot_r - r_le) / tot_r, u_le / tot_u


def _objective(w, b, x, s, a):
    return (a * np.logaddexp(0.0, -s * (w[:, None] * x + b[:, None]))).sum(axis=1) + 0.5 * w * w


def fit_logistic_1d(x, y, sample_weight=None):
    """(w, b) minimising Σ αᵢ·log(1 + exp(−sᵢ·(w·xᵢ + b))) + ½·w², s = ±1 from labels y [n] ∈
    {0, 1}, for every row of x [K, n]; α [K, n] or [n] (default 1): sklearn's
    LogisticRegression() objective (C = 1) with sample_weight."""
    x = np.asarray(x, np.float64)
    a = np.ones_like(x) if sample_weight is None else np.broadcast_to(
        np.asarray(sample_weight, np.float64), x.shape)
    s = np.where(np.asarray(y) == 1, 1.0, -1.0)[None, :]
    yy = (s + 1) / 2
    w = np.zeros(x.shape[0])
    b = np.zeros(x.shape[0])
    f = _objective(w, b, x, s, a)
    for _ in range(_NEWTON_STEPS):
        p = 0.5 * (1 + np.tanh(0.5 * (w[:, None] * x + b[:, None])))    # sigmoid, overflow-free
        e = a * (p - yy)
        gw, gb = (e * x).sum(axis=1) + w, e.sum(axis=1)
        h = a * p * (1 - p)
        hww, hwb, hbb = (h * x * x).sum(axis=1) + 1.0, (h * x).sum(axis=1), h.sum(axis=1)
        det = hww * hbb - hwb * hwb
        det = np.where(det > 0, det, np.inf)                             # flat in b: no step
        dw, db = (hbb * gw - hwb * gb) / det, (hww * gb - hwb * gw) / det
        dw = np.where(np.isfinite(det), dw, gw / hww)
        if max(np.abs(gw).max(initial=0), np.abs(gb).max(initial=0)) < 1e-12:
            break
        t = np.ones_like(w)
        for _ in range(30):                                              # backtracking
            nf = _objective(w - t * dw, b - t * db, x, s, a)
            bad = nf > f + 1e-15 * np.abs(f)
            if not bad.any():
                break
            t = np.where(bad, t / 2, t)
        w, b, f = w - t * dw, b - t * db, np.minimum(f, nf)
    return w, b


def logreg_rates(r, u, w_r, w_u, splits):
    """Mean test FPR, FNR [K] over the splits of a weighted logistic regression per problem
    (labels: retrained 0, unlearned 1). A split whose test side of a class weighs 0 (a model
    left out by its resample) gives no rate and is skipped; NaN where no split gives one."""
    x = np.concatenate([r, u], axis=1)
    a = np.concatenate([w_r, w_u], axis=1)
    y = np.repeat([0, 1], r.shape[1])
    fprs, fnrs = [], []
    for tr, te in splits:
        w, b = fit_logistic_1d(x[:, tr], y[tr], a[:, tr])
        pred = (w[:, None] * x[:, te] + b[:, None]) > 0
        at, yt = a[:, te], y[te]
        neg, pos = (at * (yt == 0)).sum(axis=1), (at * (yt == 1)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            fprs.append(np.where(neg > 0, (at * (pred & (yt == 0))).sum(axis=1) / neg, np.nan))
            fnrs.append(np.where(pos > 0, (at * (~pred & (yt == 1))).sum(axis=1) / pos, np.nan))
    fpr, fnr = np.array(fprs), np.array(fnrs)
    ok = ~(np.isnan(fpr) | np.isnan(fnr))
    count = ok.sum(axis=0)
    with np.errstate(invalid="ignore"):
        return (np.where(ok, fpr, 0).sum(0) / count, np.where(ok, fnr, 0).sum(0) / count)
