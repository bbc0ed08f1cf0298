"""KLoM and ToW, two more ways to compare unlearned with retrained models (docs/scoring.md#klom
and docs/scoring.md#tow), over weighted models like the other scorers. numpy only.

KLoM (Georgiev et al. 2024, https://arxiv.org/abs/2410.23232, appendix E.1; their code
`binned_kl_divergence` and `klom_from_margins` in easydub/eval.py of
https://github.com/easydub/EasyDUB-code at commit 5de3c4cd1b9b55308e745291e878403c47e98c47,
read for this port): per example, each model's margin m = z_y − log Σ_{j≠y} exp(z_j), clipped
to ±clip; the unlearned and the retrained models' margins are binned into `bins` equal bins
spanning both samples' range, and KLoM is KL(unlearned ‖ retrained) of the two histograms, an
empty retrained bin counting as 1e-5 where the unlearned one is not. As in their code, a margin
equal to the range's top lands past the last bin (numpy.digitize) and is not counted. The
split's KLoM is the 95th percentile over its examples (numpy's linear percentile); lower is
better, 0 = indistinguishable histograms. With N models a side the histograms are coarse: two
samples of one distribution already score well above 0 at N = 5 (bench/power.py).

ToW (Zhao et al. 2024, https://arxiv.org/abs/2406.01257): Π over forget, retain and test of
(1 − |accuracy of the unlearned models − accuracy of the retrained models|); 1 is best.

Weights: a model's weight counts it that many times in a histogram (integer weights are copies
of the model, 0 leaves it out, the bins spanning the models that remain); accuracies are
weighted means over the models.
"""
from __future__ import annotations

import numpy as np

from unlearn.core.sections import KlomConfig
from unlearn.scoring.official import _batched, _model_weights
from unlearn.scoring.official_rules import grid_count

_DEFAULTS = KlomConfig()   # score.klom's defaults, declared with the section
BINS, CLIP, PERCENTILE = _DEFAULTS.bins, _DEFAULTS.clip, _DEFAULTS.percentile
FLOOR = 1e-5


def margins(logits, labels) -> np.ndarray:
    """z_y − log Σ_{j≠y} exp(z_j) of logits [..., S, C] with labels [S] → [..., S] float64."""
    x = np.asarray(logits, np.float64)
    y = np.asarray(labels)
    idx = np.broadcast_to(y[:, None], x.shape[:-1] + (1,))
    z_y = np.take_along_axis(x, idx, axis=-1)[..., 0]
    others = x.copy()
    np.put_along_axis(others, idx, -np.inf, axis=-1)
    top = others.max(axis=-1, keepdims=True)
    return z_y - (np.log(np.exp(others - top).sum(axis=-1)) + top[..., 0])


def check(bins: int, clip: float) -> None:
    """ValueError naming the setting when KLoM can't be computed with it: the rules of
    `score.klom` (unlearn/core/sections.py)."""
    if isinstance(bins, np.integer):
        bins = int(bins)
    _, problems = KlomConfig.problems({"bins": bins, "clip": clip}, "klom")
    if problems:
        raise ValueError(problems[0].removeprefix("klom."))


_EXAMPLES_PER_CHUNK = 64        # bounds the [B, models, examples] work arrays


def klom_per_example(unlearned_margins, retrained_margins, *, weights_u=None, weights_r=None,
                     bins: int = BINS, clip: float = CLIP) -> np.ndarray:
    """KL(unlearned ‖ retrained) per example from [N, S] margins: [S], or [B, S] with [B, N]
    weights (each side may have its own number of models). Bin indices are exactly
    numpy.digitize's on np.linspace's edges (official_rules.grid_count counts the edges at or
    below a value), computed for every replicate and example at once."""
    check(bins, clip)
    u = np.clip(np.asarray(unlearned_margins, np.float64), -clip, clip)
    r = np.clip(np.asarray(retrained_margins, np.float64), -clip, clip)
    w_u = _model_weights(weights_u, u.shape[0], "weights_u")
    w_r = _model_weights(weights_r, r.shape[0], "weights_r")
    b = max(len(w_u), len(w_r))
    w = np.concatenate([np.broadcast_to(w_u, (b, u.shape[0])),
                        np.broadcast_to(w_r, (b, r.shape[0]))], axis=1)       # [B, V]
    vals = np.concatenate([u, r], axis=0)                                     # [V, S]
    from_u = np.arange(w.shape[1]) < u.shape[0]
    out = np.zeros((b, u.shape[1]))
    for s0 in range(0, vals.shape[1], _EXAMPLES_PER_CHUNK):
        v = vals[:, s0:s0 + _EXAMPLES_PER_CHUNK]                             # [V, s]
        kept = (w > 0)[:, :, None]
        lo = np.where(kept, v[None], np.inf).min(axis=1)                      # [B, s]
        hi = np.where(kept, v[None], -np.inf).max(axis=1)
        hi = np.where(lo >= hi, lo + 1.0, hi)
        idx = grid_count(v[None], lo[:, None, :], hi[:, None, :], bins + 1)  # digitize: [B, V, s]
        counted = (idx >= 1) & (idx <= bins)
        p = _histogram(idx, counted & from_u[None, :, None], w, bins)
        q = _histogram(idx, counted & ~from_u[None, :, None], w, bins)
        out[:, s0:s0 + v.shape[1]] = _kl(p, q)
    return out if _batched(weights_u, weights_r) else out[0]


def _histogram(idx, counted, w, bins):
    """[B, s, bins] weighted counts of bin indices idx [B, V, s] (1..bins where counted)."""
    b, v, s = idx.shape
    cell = (np.arange(b)[:, None, None] * s + np.arange(s)[None, None, :]) * bins + idx - 1
    weights = np.broadcast_to(w[:, :, None], idx.shape)
    counts = np.bincount(cell[counted], weights=weights[counted], minlength=b * s * bins)
    return counts.reshape(b, s, bins)


def _kl(p_counts, q_counts):
    """Their binned KL over the last axis: probabilities from counts (all 0 if a side is
    empty), an empty q bin floored at 1e-5 where p is not, Σ over p's non-empty bins of
    p·log(p / q)."""
    p_tot, q_tot = p_counts.sum(axis=-1, keepdims=True), q_counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(p_tot > 0, p_counts / p_tot, 0.0)
        q = np.where(q_tot > 0, q_counts / q_tot, 0.0)
    terms = np.zeros_like(p)
    filled = p > 0                   # at most N of the bins: logs only there
    pf = p[filled]
    terms[filled] = pf * np.log(pf / np.maximum(q[filled], FLOOR))
    return terms.sum(axis=-1)


def weighted_percentile(values, q: float, weights=None) -> np.ndarray:
    """numpy's linear percentile of the last axis, each value counted `weights` times (integer
    weights: exactly np.percentile of the repeated values; real weights interpolate the same
    way between the values the cumulative weight reaches). values [..., S], weights like it."""
    v = np.asarray(values, np.float64)
    if weights is None:
        return np.percentile(v, q, axis=-1)
    w = np.broadcast_to(np.asarray(weights, np.float64), v.shape)
    order = np.argsort(v, axis=-1, kind="stable")
    v, w = np.take_along_axis(v, order, -1), np.take_along_axis(w, order, -1)
    cum = np.cumsum(w, axis=-1)
    h = q / 100.0 * (cum[..., -1:] - 1)             # position among the "repeated" values
    lo, frac = np.floor(h), h - np.floor(h)

    def at(pos):                                     # value at a repeated-array position
        k = (cum <= pos).sum(axis=-1, keepdims=True)
        return np.take_along_axis(v, np.minimum(k, v.shape[-1] - 1), -1)
    return (at(lo) + frac * (at(lo + 1) - at(lo)))[..., 0]


def klom(unlearned_logits, retrained_logits, labels, *, weights_u=None, weights_r=None,
         example_weights=None, bins: int = BINS, clip: float = CLIP,
         percentile: float = PERCENTILE):
    """A split's KLoM: the `percentile` of the per-example KL over its examples. Logits
    [N, S, C] each side; [B] with [B, N] model weights or [B, S] example weights, else a
    float."""
    per = klom_per_example(margins(unlearned_logits, labels), margins(retrained_logits, labels),
                           weights_u=weights_u, weights_r=weights_r, bins=bins, clip=clip)
    if example_weights is None and per.ndim == 1:
        return float(np.percentile(per, percentile))
    return weighted_percentile(np.atleast_2d(per), percentile, example_weights)


def tow(acc_u, acc_r, weights_u=None, weights_r=None):
    """Π over the splits of (1 − |weighted mean accuracy of the unlearned − of the retrained|).
    acc_u, acc_r: split → per-model accuracies [N] / [N_ref]; weights [B, N] → [B]."""
    out = 1.0
    for split in acc_u:
        a_u = _weighted_mean(acc_u[split], weights_u)
        a_r = _weighted_mean(acc_r[split], weights_r)
        out = out * (1.0 - np.abs(a_u - a_r))
    return out


def _weighted_mean(acc, weights):
    a = np.asarray(acc, np.float64)
    if weights is None:
        return float(np.mean(a))
    w = np.atleast_2d(np.asarray(weights, np.float64))
    return (w * a[None]).sum(axis=1) / w.sum(axis=1)
