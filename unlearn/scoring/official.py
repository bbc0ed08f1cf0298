"""The NeurIPS-2023 unlearning-competition metric over weighted models and examples, exact,
numpy only (docs/scoring.md#official-score).

Ported from Google DeepMind's published evaluation, `metric.py` of
https://github.com/google-deepmind/unlearning_evaluation at commit
ffae0fff4c3e9523b22618c47df6c26e4eebe0df, which was read for this port. Kept: every grid, every
inequality direction, the median tie rule, the range tie rule, the 0/0 range ratio. Deliberate
differences:
- rates are counts / N in float64 (the reference averages float32 indicators), and the single
  family's thresholds are float64 `np.linspace` (the reference's `torch.linspace` is float32);
- when every rule of both families is discarded, ε = 0 (the reference dies on
  `assert thr_eps`, which also fails whenever more than one rule survives: a NumPy array of
  several values has no truth value; this port takes the maximum the reference computes next);
- no dense N × thresholds tile: each example's pooled confidences are sorted once and every rule
  is reduced to the gap or pair of gaps of that order it selects (unlearn/scoring/official_rules.py),
  which gives the same counts, hence the same ε, as the dense comparison.

One engine serves the score and its resamples: every model carries a weight (1 for the metric
itself), a rule's FNR and FPR are weight sums over each side's total, the median that picks
"pos" is the weighted median, and a model of weight 0 is left out (the grids follow the
extremes of the models that remain). Integer weights are exactly a resample with replacement
(weight k = the model k times; tests/test_bootstrap_official.py), Dirichlet weights a Bayesian
bootstrap (unlearn/scoring/bootstrap.py). Examples carry weights in F's mean.
"""
from __future__ import annotations

import math

import numpy as np

from unlearn.scoring.official_rules import double_pairs, single_gaps

DELTA = 1e-5
EPSILON_CAP = 50.0


def _float_array(x, name: str, ndim: int | None = None, min_ndim: int = 0) -> np.ndarray:
    """`x` as float64 (no copy if it already is); ValueError naming `name` if wrong rank or not finite."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: not a numeric array ({exc})") from None
    if (ndim is not None and a.ndim != ndim) or a.ndim < min_ndim:
        want = f"{ndim}-D" if ndim is not None else f"at least {min_ndim}-D"
        raise ValueError(f"{name}: expected a {want} array, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return a


def _model_pair(u, r, u_name: str, r_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate two [N models, S examples] arrays of equal shape with N ≥ 2 and S ≥ 1."""
    u = _float_array(u, u_name, ndim=2)
    r = _float_array(r, r_name, ndim=2)
    if u.shape != r.shape:
        raise ValueError(f"{u_name} {u.shape} and {r_name} {r.shape}: shapes differ "
                         "(both must be [N models, S examples])")
    if u.shape[0] < 2:
        raise ValueError(f"{u_name}: need N >= 2 models per side, got {u.shape[0]}")
    if u.shape[1] < 1:
        raise ValueError(f"{u_name}: no examples (S = 0)")
    return u, r


def _labels(labels, n_examples: int, n_classes: int, name: str = "labels") -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n_examples:
        raise ValueError(f"{name}: expected shape ({n_examples},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}: expected integer class ids, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name}: class ids must lie in [0, {n_classes})")
    return y.astype(np.intp)


def _label_index(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index for take/put_along_axis selecting class y[s] of every [..., s, :] row of x."""
    return np.broadcast_to(y[:, None], x.shape[:-1] + (1,))


def _epsilons(epsilons) -> np.ndarray:
    """Per-example ε as a non-empty 1-D float64 array of values >= 0 (+inf allowed, NaN not)."""
    eps = np.asarray(epsilons, dtype=np.float64)
    if eps.ndim != 1 or eps.size == 0 or np.isnan(eps).any() or (eps < 0).any():
        raise ValueError(f"epsilons: need a non-empty 1-D array of values >= 0 (no NaN), "
                         f"got shape {eps.shape}")
    return eps


def logit_scaled_confidence(logits, labels) -> np.ndarray:
    """conf = log(p_y + 1e-45) − log(Σ_{k≠y} p_k + 1e-45), softmax in float64 after subtracting
    the max logit (docs/scoring.md#logit-scaled-confidence). logits [..., S, C], labels [S] →
    [..., S] float64.

    The reference exponentiates in the logits' own dtype (float32) before casting; we cast first
    (docs/scoring.md#per-example-epsilon-official lists this departure), so extreme logits give
    finite values (about ±103.6 at worst)."""
    x = _float_array(logits, "logits", min_ndim=2)
    y = _labels(labels, x.shape[-2], x.shape[-1])
    p = np.exp(x - x.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    idx = _label_index(x, y)
    p_correct = np.take_along_axis(p, idx, axis=-1)[..., 0]
    np.put_along_axis(p, idx, 0.0, axis=-1)     # p is our own array: zero the true class, sum the rest
    return np.log(p_correct + 1e-45) - np.log(p.sum(axis=-1) + 1e-45)


def _rule_eps(fn, fp, tot_pos, tot_neg, delta: float) -> np.ndarray:
    """ε of decision rules from their false-negative / false-positive weights out of the two
    sides' total weights (counts out of N when every model weighs 1).

    +inf when both are 0; −inf (= discarded) when exactly one is 0 or when both logs are undefined
    (FPR and FNR near 1: the reference's nanmax gives NaN and drops the rule)."""
    fn = np.asarray(fn, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    fnr, fpr = fn / tot_pos, fp / tot_neg
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.fmax(np.log(1 - delta - fpr) - np.log(fnr), np.log(1 - delta - fnr) - np.log(fpr))
    e = np.where(np.isnan(e) | (fn <= 0) | (fp <= 0), -np.inf, e)
    return np.where((fn <= 0) & (fp <= 0), np.inf, e)


def _weighted_median(z, cum):
    """Per row, the median of one side's values in the sorted z with the weights whose cumulative
    sums are cum [B, V + 1]: the mean of the lowest value at which half the weight is reached and
    the lowest past it; np.median when every weight is 1 (also for integer multiplicities)."""
    half = cum[:, -1:] / 2
    lo = np.argmax(cum[:, 1:] >= half, axis=1)
    hi = np.argmax(cum[:, 1:] > half, axis=1)
    return (z[lo] + z[hi]) / 2


class _Side:
    """One side's weights over the sorted values: prefix and suffix sums (a count of models on
    either side of a threshold is a sum of one or two of them, never a difference, so no
    rounding turns an empty side into a tiny positive rate), prefix counts of the models
    that weigh anything (which say exactly when a side is empty), and the sorted indices of
    the lowest and highest such model (which the threshold grids span)."""

    def __init__(self, w):
        b, v = w.shape
        self.pre = np.zeros((b, v + 1))
        np.cumsum(w, axis=1, out=self.pre[:, 1:])
        self.suf = np.zeros((b, v + 1))
        np.cumsum(w[:, ::-1], axis=1, out=self.suf[:, -2::-1])
        self.cnt = np.zeros((b, v + 1), np.int64)
        kept = w > 0
        np.cumsum(kept, axis=1, out=self.cnt[:, 1:])
        self.total = self.pre[:, -1:]
        self.first, self.last = np.argmax(kept, 1), v - 1 - np.argmax(kept[:, ::-1], 1)

    def pick(self, rows_mask, other):
        """This side where rows_mask, else `other`'s, row by row."""
        out = _Side.__new__(_Side)
        for k in ("pre", "suf", "cnt", "total"):
            out.__dict__[k] = np.where(rows_mask[:, None], self.__dict__[k], other.__dict__[k])
        for k in ("first", "last"):
            out.__dict__[k] = np.where(rows_mask, self.__dict__[k], other.__dict__[k])
        return out

    def below(self, g):
        """Weight and count of this side's values among the first g sorted values."""
        return np.take_along_axis(self.pre, g, 1), np.take_along_axis(self.cnt, g, 1)

    def from_(self, g):
        """Weight and count of this side's values from sorted index g on."""
        c = self.cnt[:, -1:] - np.take_along_axis(self.cnt, g, 1)
        return np.take_along_axis(self.suf, g, 1), c


def _rates_eps(fn, fn_cnt, fp, fp_cnt, tot_pos, tot_neg, delta):
    return _rule_eps(np.where(fn_cnt > 0, fn, 0.0), np.where(fp_cnt > 0, fp, 0.0), tot_pos,
                     tot_neg, delta)


def _one_example(z, from_r, w, p):
    """ε [B] of one example under B weightings: z its 2N sorted pooled confidences, from_r which
    came from a retrained model, w [B, 2N] the models' weights in z's order (>= 0; a model of
    weight 0 is left out), p the metric's settings."""
    b, v = w.shape
    w_r = np.where(from_r, w, 0.0)
    side_r, side_u = _Side(w_r), _Side(w - w_r)
    u_lo, u_hi = z[side_u.first], z[side_u.last]
    r_lo, r_hi = z[side_r.first], z[side_r.last]
    r_is_pos = _weighted_median(z, side_r.pre) > _weighted_median(z, side_u.pre)  # ties: u is pos
    d_r, d_u = r_hi - r_lo, u_hi - u_lo
    dp, dn = np.where(r_is_pos, d_r, d_u), np.where(r_is_pos, d_u, d_r)
    with np.errstate(invalid="ignore", divide="ignore"):
        peaky = np.minimum(dp, dn) / np.maximum(dp, dn) < p["peaky_ratio"]   # 0/0: not peaky
    pos, neg = side_r.pick(r_is_pos, side_u), side_u.pick(r_is_pos, side_r)
    # Single threshold (reference `_get_single_threshold_rates`): predict pos when c >= t; a
    # threshold in gap g has the first g sorted values below it.
    lo, hi = np.minimum(u_lo, r_lo), np.maximum(u_hi, r_hi)
    reached = single_gaps(z, lo, hi, p["grid"])
    g = np.broadcast_to(np.arange(v + 1), (b, v + 1))
    fn, fn_cnt = pos.below(g)
    fp, fp_cnt = neg.from_(g)
    eps = np.where(reached, _rates_eps(fn, fn_cnt, fp, fp_cnt, pos.total, neg.total, p["delta"]),
                   -np.inf).max(axis=1)
    # Double threshold (reference `_get_double_threshold_rates`): "pos2" is the side with the
    # smaller range (equal ranges: neg); rules depend on its extremes, shared by replicates.
    p2_is_r = r_is_pos != (dp >= dn)
    p2, n2 = side_r.pick(p2_is_r, side_u), side_u.pick(p2_is_r, side_r)
    keys = np.stack([p2.first, p2.last], 1)
    rows = np.flatnonzero(~peaky & (eps < np.inf))
    if rows.size:
        uniq, inverse = np.unique(keys[rows], axis=0, return_inverse=True)
        inverse = inverse.ravel()
        for k, (i_lo, i_hi) in enumerate(uniq):
            members = rows[inverse == k]
            big_m, m = double_pairs(z, z[i_lo], z[i_hi], z[i_hi] - z[i_lo], p["grid"],
                                    p["buffer"], p["n_left"])
            if big_m.size == 0:
                continue
            sel = lambda a: a[members]                                 # noqa: E731
            pre_p, suf_p, cnt_p = sel(p2.pre), sel(p2.suf), sel(p2.cnt)
            pre_n, cnt_n = sel(n2.pre), sel(n2.cnt)
            # pos2 outside [l, r] = before m plus from M on; neg2 inside = between m and M
            fn = pre_p[:, m] + suf_p[:, big_m]
            fn_cnt = cnt_p[:, m] + (cnt_p[:, -1:] - cnt_p[:, big_m])
            fp = np.maximum(pre_n[:, big_m] - pre_n[:, m], 0.0)
            fp_cnt = cnt_n[:, big_m] - cnt_n[:, m]
            e2 = _rates_eps(fn, fn_cnt, fp, fp_cnt, sel(p2.total), sel(n2.total), p["delta"])
            eps[members] = np.maximum(eps[members], e2.max(axis=1))
    eps = np.where(peaky, p["cap"], eps)
    # Every rule discarded leaves −inf: ε = 0 (see module docstring); +inf (perfect split) → cap.
    return np.clip(eps, 0.0, p["cap"])


def _batched(*weights) -> bool:
    """Whether any weights were given per replicate ([B, N]): then the result is [B, S]."""
    return any(w is not None and np.ndim(w) == 2 for w in weights)


def _model_weights(weights, n: int, name: str) -> np.ndarray:
    """[B, n] float64 weights >= 0 with a positive one per side and row; None = all 1."""
    if weights is None:
        return np.ones((1, n))
    w = _float_array(weights, name)
    w = w[None] if w.ndim == 1 else w
    if w.ndim != 2 or w.shape[1] != n:
        raise ValueError(f"{name}: expected [{n}] or [B, {n}] weights, got shape {w.shape}")
    if (w < 0).any() or not (w > 0).any(axis=1).all():
        raise ValueError(f"{name}: weights must be >= 0 with a positive one in every row")
    return w


def official_epsilons(unlearned_confs, retrained_confs, *, weights_u=None, weights_r=None,
                      examples=None, delta: float = DELTA, eps_cap: float = EPSILON_CAP,
                      peaky_ratio: float = 0.01, grid_per_unit: float = 100,
                      double_buffer: float = 2.0, double_left_points: int = 400) -> np.ndarray:
    """Per-example ε of the competition metric from [N, S] confidences
    (docs/scoring.md#per-example-epsilon-official): [S], or [B, S] for B weightings.

    weights_u, weights_r: each model's weight, [N] or [B, N] (None: all 1, the metric itself;
    integer weights are a resample with replacement, weight k counting a model k times; a
    weight of 0 leaves the model out). Rates are weight sums over each side's total.
    examples: optional [B, S] bool; ε is computed only where True (elsewhere 0).
    pos = the sample with the larger median (ties: unlearned, as the reference's strict `>`);
    range ratio < peaky_ratio → eps_cap (both ranges 0 gives 0/0 = NaN, not peaky, as in the
    reference); else the max ε over the single- and double-threshold families, clipped to
    [0, eps_cap]. double_left_points is the reference's ceil(2·buffer·100) = 400."""
    u, r = _model_pair(unlearned_confs, retrained_confs, "unlearned_confs", "retrained_confs")
    if not 0 <= delta < 1:
        raise ValueError(f"delta: must lie in [0, 1), got {delta}")
    if not (eps_cap > 0 and grid_per_unit > 0 and double_buffer >= 0 and peaky_ratio >= 0):
        raise ValueError("eps_cap, grid_per_unit: must be > 0; double_buffer, peaky_ratio: >= 0")
    if int(double_left_points) != double_left_points or double_left_points < 1:
        raise ValueError(f"double_left_points: must be a positive integer, got {double_left_points}")
    n, s = u.shape
    w_u = _model_weights(weights_u, n, "weights_u")
    w_r = _model_weights(weights_r, n, "weights_r")
    if w_u.shape[0] != w_r.shape[0] and 1 not in (w_u.shape[0], w_r.shape[0]):
        raise ValueError(f"weights_u, weights_r: {w_u.shape[0]} and {w_r.shape[0]} rows differ")
    b = max(w_u.shape[0], w_r.shape[0])
    w = np.concatenate([np.broadcast_to(w_u, (b, n)), np.broadcast_to(w_r, (b, n))], axis=1)
    p = {"delta": delta, "cap": eps_cap, "peaky_ratio": peaky_ratio, "grid": grid_per_unit,
         "buffer": double_buffer, "n_left": int(double_left_points)}
    out = np.zeros((b, s))
    for i in range(s):
        rows = np.arange(b) if examples is None else np.flatnonzero(examples[:, i])
        if rows.size == 0:
            continue
        vals = np.concatenate([u[:, i], r[:, i]])
        order = np.argsort(vals, kind="stable")
        out[rows, i] = _one_example(vals[order], order >= n, w[rows][:, order], p)
    return out if _batched(weights_u, weights_r) else out[0]


def official_bucket_count(n_models: int) -> int:
    """Number of 0.5-wide ε buckets: those ending at or below ceil(log(N − 1))
    (docs/scoring.md#buckets-and-forget-quality-official)."""
    if int(n_models) != n_models or n_models < 2:
        raise ValueError(f"n_models: must be an integer >= 2, got {n_models}")
    max_eps = math.ceil(math.log(n_models - 1))
    return int(2 * max_eps)     # bucket k ends at 0.5·(k+1) ≤ max_eps, an integer


def official_points(epsilons, n_models: int) -> np.ndarray:
    """Points per example: bucket k = [0.5k, 0.5k + 0.5) earns 2^−k, beyond the last 0
    (docs/scoring.md#buckets-and-forget-quality-official); any shape of ε."""
    eps = np.asarray(epsilons, dtype=np.float64)
    k = np.floor(eps / 0.5)                         # index of the bucket holding ε
    n_buckets = official_bucket_count(n_models)
    return np.where(k < n_buckets, 0.5 ** np.minimum(k, n_buckets), 0.0)


def official_quality_from_epsilons(epsilons, n_models: int, example_weights=None):
    """F from per-example ε: the (weighted) mean of the examples' points; ε [S] → F, or
    [B, S] with example_weights [B, S] → F [B]."""
    if example_weights is None:
        eps = _epsilons(epsilons)
        return float(official_points(eps, n_models).sum() / eps.size)
    w = np.asarray(example_weights, np.float64)
    return (official_points(epsilons, n_models) * w).sum(axis=-1) / w.sum(axis=-1)


def official_forget_quality(unlearned_confs, retrained_confs, *, return_epsilons: bool = False,
                            **kw):
    """F of the competition metric (docs/scoring.md#official-score); with return_epsilons=True
    returns (F, per-example ε [S])."""
    eps = official_epsilons(unlearned_confs, retrained_confs, **kw)
    f = official_quality_from_epsilons(eps, np.shape(unlearned_confs)[0])
    return (f, eps) if return_epsilons else f
