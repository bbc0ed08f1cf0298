"""Scores: the competition metric (docs/scoring.md#official-score; in `unlearn.scoring.official`),
the study's local Kaggle scorer (docs/scoring.md#local-score), the final score
(docs/scoring.md#final-score) and Choi & Na's NoMUS (docs/scoring.md#nomus). numpy and
scikit-learn only.

The local scorer follows M. Gorinova's Kaggle notebook as copied in public repositories (read for
this port; the notebook's URL and the copies' repositories and commits were not recorded):
`best_threshold_attack`, `logistic_regression_attack` (LogisticRegression() and
StratifiedShuffleSplit(n_splits=3, random_state=0), sklearn defaults, so test_size = 0.1) and
`compute_epsilon_s` (list starts at [0.]; FPR = FNR = 0 → +inf; one of them 0 → discarded; both
logs NaN → +inf; nanmax).
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np

from unlearn.scoring.local_attacks import logreg_rates, threshold_rates
from unlearn.scoring.official import (DELTA, EPSILON_CAP, _batched, _epsilons, _float_array,
                                      _label_index, _labels, _model_pair, _model_weights,
                                      logit_scaled_confidence, official_bucket_count,
                                      official_epsilons, official_forget_quality,
                                      official_quality_from_epsilons)

__all__ = [
    "DELTA", "EPSILON_CAP", "LOCAL_DELTA", "logit_scaled_confidence", "official_epsilons",
    "official_forget_quality", "official_bucket_count", "official_quality_from_epsilons",
    "local_statistic", "local_noise_std", "noisy_retrained_statistics", "local_epsilons",
    "local_forget_quality", "final_score", "per_example_cross_entropy", "nomus",
]

LOCAL_DELTA = 0.01
_LOCAL_BIN_EDGES = np.arange(13) * 0.5      # 0, 0.5, …, 6.0 (docs/scoring.md#buckets-local)


def local_statistic(logits) -> np.ndarray:
    """Cross-entropy of the logits against the model's own argmax, [..., S, C] → [..., S]
    (docs/scoring.md#local-statistic-and-noisy-copies).

    CE(x, argmax x) = logsumexp(x) − max(x), computed in float64 (the notebook uses torch float32
    and zeroes all-NaN rows; NaN logits are rejected here)."""
    x = _float_array(logits, "logits", min_ndim=2)
    return np.log(np.exp(x - x.max(axis=-1, keepdims=True)).sum(axis=-1))


def per_example_cross_entropy(logits, labels) -> np.ndarray:
    """Cross-entropy of each example against its true label, [..., S, C] + [S] → [..., S] float64."""
    x = _float_array(logits, "logits", min_ndim=2)
    y = _labels(labels, x.shape[-2], x.shape[-1])
    mx = x.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(x - mx).sum(axis=-1)) + mx[..., 0]
    return lse - np.take_along_axis(x, _label_index(x, y), axis=-1)[..., 0]


def local_noise_std(unlearned_stats, divisor: float = 10.0, run_weights=None) -> float:
    """s = std(all unlearned statistics) / divisor, 10 as published (population std); with
    run_weights [N], each run's statistics weighted (a bootstrap replicate); see
    docs/scoring.md#local-statistic-and-noisy-copies."""
    a = _float_array(unlearned_stats, "unlearned_stats", min_ndim=1)
    if a.size == 0:
        raise ValueError("unlearned_stats: empty")
    if run_weights is None:
        return float(np.std(a) / divisor)
    w = np.broadcast_to(np.asarray(run_weights, np.float64).reshape((-1,) + (1,) * (a.ndim - 1)),
                        a.shape)
    mean = np.average(a, weights=w)
    return float(np.sqrt(np.average((a - mean) ** 2, weights=w)) / divisor)


def noisy_retrained_statistics(retrained_logits, n_copies: int, noise_std: float,
                               seed: int) -> np.ndarray:
    """[n_copies, S] statistics of one retrained model's forget logits [S, C] plus Normal(0,
    noise_std) noise drawn with numpy default_rng(seed) (the notebook: np.random.normal); see
    docs/scoring.md#local-statistic-and-noisy-copies."""
    x = _float_array(retrained_logits, "retrained_logits", ndim=2)
    if int(n_copies) != n_copies or n_copies < 1:
        raise ValueError(f"n_copies: must be a positive integer, got {n_copies}")
    if not (np.isfinite(noise_std) and noise_std >= 0):
        raise ValueError(f"noise_std: must be finite and >= 0, got {noise_std}")
    rng = np.random.default_rng(seed)
    noisy = rng.normal(loc=x[None], scale=noise_std, size=(int(n_copies),) + x.shape)
    return local_statistic(noisy)


def _attack_eps(fpr, fnr, delta: float) -> np.ndarray:
    """Per-attack ε of the notebook's compute_epsilon_s; −inf marks a discarded attack."""
    fpr, fnr = np.asarray(fpr, np.float64), np.asarray(fnr, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.fmax(np.log(1.0 - delta - fpr) - np.log(fnr), np.log(1.0 - delta - fnr) - np.log(fpr))
    e = np.where(np.isnan(e), np.inf, e)         # both logs NaN (FPR, FNR > 1 − δ) → +inf
    e = np.where((fpr == 0) | (fnr == 0), -np.inf, e)
    return np.where((fpr == 0) & (fnr == 0), np.inf, e)


def _shuffle_splits(n_per_class: int, n_splits: int, random_state, who: str, test_size=None):
    """StratifiedShuffleSplit (sklearn defaults otherwise) on labels [0]*n + [1]*n: the splits
    depend on the labels only, so one list serves every example."""
    from sklearn.model_selection import StratifiedShuffleSplit
    y = np.repeat([0, 1], n_per_class)
    try:
        sss = StratifiedShuffleSplit(n_splits=n_splits, test_size=test_size,
                                     random_state=random_state)
        return y, list(sss.split(np.zeros((y.size, 1)), y))
    except ValueError as exc:
        raise ValueError(f"{who}: {n_per_class} per class is too few for "
                         f"StratifiedShuffleSplit ({exc})".replace("\n", " ")) from None


@contextlib.contextmanager
def _quiet_fast_sklearn():
    """Same fits, less overhead: one BLAS thread (threads only contend on 1-feature problems;
    4x slower here with two), sklearn's input checks skipped (inputs are checked already), and
    lbfgs's ConvergenceWarning on separable data silenced (the notebook's fit is the same)."""
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1), warnings.catch_warnings(), \
            sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


_CHUNK = 20000           # problems per batch: bounds the [problems, 2N] work arrays


def _stack(stats, name):
    """[B, N, S] from [N, S] (B = 1) or [B, N, S] statistics."""
    a = _float_array(stats, name, min_ndim=2)
    return a[None] if a.ndim == 2 else a


def local_epsilons(unlearned_stats, retrained_stats, *, weights_u=None, weights_r=None,
                   delta: float = LOCAL_DELTA, n_splits: int = 3, random_state=0,
                   test_size=None, examples=None) -> np.ndarray:
    """Per-example ε of the local scorer (docs/scoring.md#per-example-epsilon-local): from [N, S]
    statistics → [S]; from [B, N, S] (either side) or [B, N] weights → [B, S].

    Label 1 = unlearned, 0 = retrained. Attacks: every pooled value t as a threshold (predict 1
    when value > t), and a logistic regression on the value (rates averaged over the splits),
    both on weighted samples (unlearn/scoring/local_attacks.py; weights None = all 1, the
    scorer itself). test_size=None is the notebook's (sklearn's default 0.1, which needs N ≥ 10
    per side to leave two test examples); smaller N needs a larger share, e.g. 0.34 for N = 3.
    examples: optional [B, S] bool, ε computed only where True (elsewhere 0)."""
    u, r = _stack(unlearned_stats, "unlearned_stats"), _stack(retrained_stats, "retrained_stats")
    if u.shape[1:] != r.shape[1:]:
        raise ValueError(f"unlearned_stats {u.shape[1:]} and retrained_stats {r.shape[1:]}: "
                         "shapes differ (both must be [N models, S examples])")
    _model_pair(u[0], r[0], "unlearned_stats", "retrained_stats")
    if not 0 <= delta < 1:
        raise ValueError(f"delta: must lie in [0, 1), got {delta}")
    n, s = u.shape[1:]
    w_u = _model_weights(weights_u, n, "weights_u")
    w_r = _model_weights(weights_r, n, "weights_r")
    b = max(len(u), len(r), len(w_u), len(w_r))
    _, splits = _shuffle_splits(n, n_splits, random_state, "local_epsilons", test_size)
    mask = np.ones((b, s), bool) if examples is None else np.asarray(examples, bool)
    rep, ex = np.nonzero(mask)                    # one problem per (replicate, example)

    def row(a, k):                                # a [1 or B, ...]: replicate k's row
        return k if len(a) == b else np.zeros_like(k)
    out = np.zeros((b, s))
    for k0 in range(0, rep.size, _CHUNK):
        rep_c, ex_c = rep[k0:k0 + _CHUNK], ex[k0:k0 + _CHUNK]
        uc, rc = u[row(u, rep_c), :, ex_c], r[row(r, rep_c), :, ex_c]        # [K, N]
        wu, wr = w_u[row(w_u, rep_c)], w_r[row(w_r, rep_c)]
        fpr, fnr = threshold_rates(rc, uc, wr, wu)
        lr_fpr, lr_fnr = logreg_rates(rc, uc, wr, wu, splits)
        eps = _attack_eps(np.concatenate([fpr, lr_fpr[:, None]], axis=1),
                          np.concatenate([fnr, lr_fnr[:, None]], axis=1), delta)
        eps[:, -1] = np.where(np.isnan(lr_fpr), -np.inf, eps[:, -1])   # no split gave a rate
        out[rep_c, ex_c] = np.maximum(0.0, eps.max(axis=1))    # the notebook starts from [0.]
    batched = _batched(weights_u, weights_r) or any(
        np.ndim(x) == 3 for x in (unlearned_stats, retrained_stats))
    return out if batched else out[0]


def local_points(epsilons) -> np.ndarray:
    """Points per example, 2 / 2^n with n = numpy.digitize(ε, [0, 0.5, …, 6.0]); ε = 0 scores 1
    (docs/scoring.md#buckets-local); any shape."""
    return 2.0 / 2.0 ** np.digitize(np.asarray(epsilons, np.float64), _LOCAL_BIN_EDGES)


def local_forget_quality(epsilons, example_weights=None):
    """F = the (weighted) mean of the examples' points: ε [S] → F, or [B, S] with
    example_weights [B, S] → F [B] (docs/scoring.md#buckets-local)."""
    if example_weights is None:
        return float(np.mean(local_points(_epsilons(epsilons))))
    w = np.asarray(example_weights, np.float64)
    return (local_points(epsilons) * w).sum(axis=-1) / w.sum(axis=-1)


def final_score(forget_quality, retain_acc_u, test_acc_u, retain_acc_r, test_acc_r) -> float:
    """F × (mean RA_U / mean RA_R) × (mean TA_U / mean TA_R); scalars or arrays
    (docs/scoring.md#final-score)."""
    f = float(np.mean(_float_array(forget_quality, "forget_quality")))
    means = {}
    for name, v in (("retain_acc_u", retain_acc_u), ("test_acc_u", test_acc_u),
                    ("retain_acc_r", retain_acc_r), ("test_acc_r", test_acc_r)):
        a = _float_array(v, name)
        if a.size == 0:
            raise ValueError(f"{name}: empty")
        means[name] = float(np.mean(a))
    for name in ("retain_acc_r", "test_acc_r"):
        if means[name] <= 0:
            raise ValueError(f"{name}: mean must be > 0 (it divides), got {means[name]}")
    return (f * (means["retain_acc_u"] / means["retain_acc_r"])
            * (means["test_acc_u"] / means["test_acc_r"]))


def nomus(test_acc, forget_losses, unseen_losses, *, n_splits: int = 10,
          random_state=0) -> dict:
    """Choi & Na's NoMUS (docs/scoring.md#nomus) → {"mia", "forgetting_score", "nomus",
    "n_pairs"}.

    MIA = mean accuracy of LogisticRegression() telling per-example losses of forget (label 1)
    from unseen (label 0) images over StratifiedShuffleSplit(n_splits, random_state) (test_size
    0.1); NoMUS = (test_acc + (1 − 2·|MIA − 0.5|)) / 2. Both sides are cut to the first
    min(len) losses so the classes are equal. (Choi & Na's code shuffles the forget losses
    under seed 42 and cuts only them, so with their 1,500 forget / 1,504 unseen it ran on
    1,504 vs 1,500.)"""
    acc = float(_float_array(test_acc, "test_acc", ndim=0))
    if not 0 <= acc <= 1:
        raise ValueError(f"test_acc: must lie in [0, 1], got {acc}")
    f = _float_array(forget_losses, "forget_losses", ndim=1)
    un = _float_array(unseen_losses, "unseen_losses", ndim=1)
    k = min(f.size, un.size)
    y, splits = _shuffle_splits(k, n_splits, random_state, "nomus")
    x = np.concatenate([un[:k], f[:k]])[:, None]
    from sklearn.linear_model import LogisticRegression
    with _quiet_fast_sklearn():
        mia = float(np.mean([LogisticRegression().fit(x[tr], y[tr]).score(x[te], y[te])
                             for tr, te in splits]))
    return {"mia": mia, "forgetting_score": abs(mia - 0.5),
            "nomus": (acc + (1.0 - 2.0 * abs(mia - 0.5))) / 2.0, "n_pairs": k}
