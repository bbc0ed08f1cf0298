"""The NeurIPS-2023 unlearning-competition metric, exact and fast, numpy only
(docs/scoring.md#official-score).

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
- no dense N × thresholds tile: each sample is sorted once and every rule's counts come from
  binary search (or, for the ~160k double-threshold rules per example, an exact bin table, see
  `_double_family`), which gives the same counts, hence the same ε, as the dense comparison.
About 2 ms per example at N = 512 on two CPU cores, against seconds for the dense form.
"""
from __future__ import annotations

import math

import numpy as np

DELTA = 1e-5
EPSILON_CAP = 50.0
_TABLE_MAX_N = 1023          # (2N+1)^2 float64 ε look-up table stays ≤ 32 MiB; larger N: per rule
_CHUNK_EXAMPLES = 256        # examples sorted together; bounds the [chunk, 2N] work arrays
_MAX_RULES_PER_BLOCK = 1 << 18   # double-threshold rules evaluated at once (~2 MiB per array)
_BINS_PER_VALUE = 16         # bins per pooled conf in `_double_family`: few queries need a search


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


def _rule_eps(fn, fp, n: int, delta: float) -> np.ndarray:
    """ε of decision rules from their false-negative / false-positive counts out of n each.

    +inf when both are 0; −inf (= discarded) when exactly one is 0 or when both logs are undefined
    (FPR and FNR near 1: the reference's nanmax gives NaN and drops the rule)."""
    fn = np.asarray(fn, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    fnr, fpr = fn / n, fp / n
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.fmax(np.log(1 - delta - fpr) - np.log(fnr), np.log(1 - delta - fnr) - np.log(fpr))
    e = np.where(np.isnan(e) | (fn == 0) | (fp == 0), -np.inf, e)
    return np.where((fn == 0) & (fp == 0), np.inf, e)


class _EpsOfCodes:
    """max ε over rules coded fn·W + (fp + N), W = 2N + 1, by table look-up while N is small.

    The double family counts tp = #pos2 <= r − #pos2 < l (fp alike), which goes negative for an
    empty interval (l > r); codes therefore span fn ∈ [0, 2N], fp ∈ [−N, N], and a negative count,
    like the dense rule's empty selection (fn = N, fp = 0), is discarded."""

    def __init__(self, n: int, delta: float):
        self.n, self.delta, self.w = n, delta, 2 * n + 1
        self.table = None
        if n <= _TABLE_MAX_N:
            k = np.arange(self.w)
            self.table = self._eval(k[:, None], k[None, :]).ravel()

    def _eval(self, fn, fp_off):
        fp = fp_off - self.n
        e = _rule_eps(np.minimum(fn, self.n), np.maximum(fp, 0), self.n, self.delta)
        return np.where((fn > self.n) | (fp < 0), -np.inf, e)

    def max(self, codes: np.ndarray) -> float:
        if codes.size == 0:
            return -np.inf
        if self.table is not None:
            return float(self.table[codes].max())
        return float(self._eval(*np.divmod(codes, self.w)).max())


_NEAR = -(1 << 62)      # code marking a query that shares a bin with a conf: needs a search


def _double_family(z, p2, width, right, buffer, n_left, ev, cap) -> float:
    """max ε of the double-threshold rules (l <= c <= r predicts pos2); z sorted pooled confs,
    p2[m] = #pos2 among z[:m]. Rules are never tiled against the N confs: #confs < l comes from
    a monotone bin map (a conf in a lower bin is smaller, in a higher bin larger), so a query alone
    in its bin reads the count from a cumulative table; the few sharing a bin are binary-searched."""
    n, w = (z.size // 2), ev.w
    m_all = np.arange(z.size + 1)
    big_m = np.searchsorted(z, right, side="right")           # #confs <= r
    a = p2[big_m]
    # tp = a − p2[m], fp = (big_m − a) − (m − p2[m]); code = (n − tp)·w + fp + n = c_row + d_m[m]
    c_row = (n - a) * w + (big_m - a) + n
    d_m = p2 * (w + 1) - m_all
    # Left thresholds as np.linspace(r − w − b, r − w + b, n_left) row by row (same operations:
    # k·step + start, last = stop), built per block to bound memory.
    starts, stops = right - width - buffer, right - width + buffer
    kk = np.arange(n_left, dtype=np.float64)
    step = (stops - starts) / (n_left - 1) if n_left > 1 else np.zeros_like(starts)

    def exact_left(rows, cols):
        q = cols * step[rows] + starts[rows]
        return np.where(cols == n_left - 1, stops[rows], q) if n_left > 1 else q

    lo, hi = starts[0], stops[-1]       # every left threshold lies in [lo, hi]
    nbins = _BINS_PER_VALUE * z.size
    scale = nbins / (hi - lo) if hi > lo else math.inf
    db = None
    if math.isfinite(scale):
        zb = (z - lo) * scale
        np.clip(zb, 0, nbins + 1, out=zb)
        cnt = np.bincount(zb.astype(np.intp), minlength=nbins + 2)   # truncation: monotone
        db = d_m[np.cumsum(cnt) - cnt]
        db[cnt > 0] = _NEAR
    best = -np.inf
    per = max(1, _MAX_RULES_PER_BLOCK // n_left)
    for j0 in range(0, right.size, per):
        rows = np.arange(j0, min(j0 + per, right.size))
        if db is None:
            q = exact_left(rows[:, None], kk[None, :])
            codes = c_row[rows, None] + d_m[np.searchsorted(z, q, side="left")]
        else:
            q = kk[None, :] * step[rows, None]
            q += starts[rows, None]
            if n_left > 1:
                q[:, -1] = stops[rows]
            q -= lo
            q *= scale
            codes = db[q.astype(np.intp)]
            codes += c_row[rows, None]
            near = np.flatnonzero(codes < 0)
            if near.size:
                r_i, k_i = np.divmod(near, n_left)
                m = np.searchsorted(z, exact_left(rows[r_i], kk[k_i]), side="left")
                codes.flat[near] = c_row[rows[r_i]] + d_m[m]
        best = max(best, ev.max(codes))
        if best >= cap:         # the result is clipped to cap: no need to look further
            break
    return best


def _example_eps(ps, ns, z, cpos, ev: _EpsOfCodes, grid: float, buffer: float, n_left: int,
                 cap: float) -> float:
    """Uncapped ε of one example: ps/ns sorted pos/neg confs, z the sorted pooled confs,
    cpos[m] the number of pos among z[:m] (exact wherever m ends a run of equal values, the only
    places it is read)."""
    n = ps.size
    best = -np.inf
    # Single threshold, reference `_get_single_threshold_rates`: predict pos when c >= t.
    lo, hi = z[0], z[-1]
    n_thr = int(math.ceil((hi - lo) * grid))
    if n_thr > 0:
        m = np.searchsorted(z, np.linspace(lo, hi, n_thr), side="left")    # #confs < t
        # fn = #pos < t = cpos[m]; fp = #neg >= t = n − (m − cpos[m])
        best = ev.max(cpos[m] * (ev.w + 1) + (2 * n - m))
        if best >= cap:
            return best
    # Double threshold, reference `_get_double_threshold_rates`: "pos" becomes the sample with the
    # smaller range (on equal ranges the reference swaps: the smaller-median one).
    dp, dn = ps[-1] - ps[0], ns[-1] - ns[0]
    width = dn if dp > dn else dp
    swap = dp >= dn
    p2 = np.arange(2 * n + 1) - cpos if swap else cpos
    p2_lo, p2_hi = (ns[0], ns[-1]) if swap else (ps[0], ps[-1])
    r_lo, r_hi = p2_lo + width - buffer, p2_hi + buffer      # same operation order as reference
    n_right = int(math.ceil((r_hi - r_lo) * grid))
    if n_right > 0:
        right = np.linspace(r_lo, r_hi, n_right)
        best = max(best, _double_family(z, p2, width, right, buffer, n_left, ev, cap))
    return best


def official_epsilons(unlearned_confs, retrained_confs, *, delta: float = DELTA,
                      eps_cap: float = EPSILON_CAP, peaky_ratio: float = 0.01,
                      grid_per_unit: float = 100, double_buffer: float = 2.0,
                      double_left_points: int = 400) -> np.ndarray:
    """Per-example ε [S] of the competition metric from [N, S] confidences
    (docs/scoring.md#per-example-epsilon-official).

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
    ev = _EpsOfCodes(n, delta)
    r_is_pos = np.median(r, axis=0) > np.median(u, axis=0)
    out = np.empty(s)
    for c0 in range(0, s, _CHUNK_EXAMPLES):
        sl = slice(c0, c0 + _CHUNK_EXAMPLES)
        flip = r_is_pos[sl]
        pos = np.sort(np.where(flip, r[:, sl], u[:, sl]).T, axis=1)
        neg = np.sort(np.where(flip, u[:, sl], r[:, sl]).T, axis=1)
        pooled = np.concatenate([pos, neg], axis=1)
        order = np.argsort(pooled, axis=1, kind="stable")
        z = np.take_along_axis(pooled, order, axis=1)
        cpos = np.zeros((pooled.shape[0], 2 * n + 1), dtype=np.intp)
        np.cumsum(order < n, axis=1, out=cpos[:, 1:])
        dp, dn = pos[:, -1] - pos[:, 0], neg[:, -1] - neg[:, 0]
        with np.errstate(invalid="ignore"):
            peaky = np.minimum(dp, dn) / np.maximum(dp, dn) < peaky_ratio
        for i in range(pooled.shape[0]):
            out[c0 + i] = eps_cap if peaky[i] else _example_eps(
                pos[i], neg[i], z[i], cpos[i], ev, grid_per_unit, double_buffer,
                int(double_left_points), eps_cap)
    # Every rule discarded leaves −inf: ε = 0 (see module docstring); +inf (perfect split) → cap.
    return np.clip(out, 0.0, eps_cap)


def official_bucket_count(n_models: int) -> int:
    """Number of 0.5-wide ε buckets: those ending at or below ceil(log(N − 1))
    (docs/scoring.md#buckets-and-forget-quality-official)."""
    if int(n_models) != n_models or n_models < 2:
        raise ValueError(f"n_models: must be an integer >= 2, got {n_models}")
    max_eps = math.ceil(math.log(n_models - 1))
    return int(2 * max_eps)     # bucket k ends at 0.5·(k+1) ≤ max_eps, an integer


def official_quality_from_epsilons(epsilons, n_models: int) -> float:
    """F from per-example ε: bucket k = [0.5k, 0.5k + 0.5) earns 2^−k, beyond the last 0
    (docs/scoring.md#buckets-and-forget-quality-official)."""
    eps = _epsilons(epsilons)
    k = np.floor(eps / 0.5)                         # index of the bucket holding ε
    n_buckets = official_bucket_count(n_models)
    points = np.where(k < n_buckets, 0.5 ** np.minimum(k, n_buckets), 0.0)
    return float(points.sum() / eps.size)


def official_forget_quality(unlearned_confs, retrained_confs, *, return_epsilons: bool = False,
                            **kw):
    """F of the competition metric (docs/scoring.md#official-score); with return_epsilons=True
    returns (F, per-example ε [S])."""
    eps = official_epsilons(unlearned_confs, retrained_confs, **kw)
    f = official_quality_from_epsilons(eps, np.shape(unlearned_confs)[0])
    return (f, eps) if return_epsilons else f
