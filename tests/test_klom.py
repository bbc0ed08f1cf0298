"""KLoM and ToW (unlearn/scoring/klom.py): the published binned KL on small arrays, margins
and the weighted percentile by hand, integer weights as copied models."""
import numpy as np
import pytest

from unlearn.scoring import klom


def published_binned_kl(p_samples, q_samples, bin_count=20, eps=1e-5, min_val=-100.0,
                        max_val=100.0):
    """`binned_kl_divergence` of easydub/eval.py (EasyDUB-code, commit 5de3c4c), transcribed."""
    p_arr = np.clip(p_samples, min_val, max_val)
    q_arr = np.clip(q_samples, min_val, max_val)
    bins_start = min(p_arr.min(), q_arr.min())
    bins_end = max(p_arr.max(), q_arr.max())
    if bins_start >= bins_end:
        bins_end = bins_start + 1.0
    edges = np.linspace(bins_start, bins_end, bin_count + 1)
    p_indices = np.digitize(p_arr, edges)
    q_indices = np.digitize(q_arr, edges)
    p_counts = np.array([np.sum(p_indices == i) for i in range(1, bin_count + 1)])
    q_counts = np.array([np.sum(q_indices == i) for i in range(1, bin_count + 1)])
    p_total, q_total = p_counts.sum(), q_counts.sum()
    p_probs = p_counts / p_total if p_total > 0 else np.zeros_like(p_counts, dtype=float)
    q_probs = q_counts / q_total if q_total > 0 else np.zeros_like(q_counts, dtype=float)
    q_safe = np.where(p_probs > 0.0, np.maximum(q_probs, eps), q_probs)
    mask = p_probs > 0.0
    return float(np.sum(p_probs[mask] * np.log(p_probs[mask] / q_safe[mask])))


@pytest.mark.parametrize("n, seed", [(3, 0), (5, 1), (8, 2), (40, 3)])
def test_klom_per_example_is_the_published_function(n, seed):
    rng = np.random.default_rng(seed)
    u = rng.normal(0, 3, (n, 30)) + rng.normal(0, 2, 30)
    r = rng.normal(0, 3, (n, 30))
    u[:, :4] = np.round(u[:, :4])           # ties, values on the range's top
    r[:, 4] = 500.0                         # clipped
    u[:, 5] = r[:, 5] = 1.0                 # a zero range
    want = [published_binned_kl(u[:, i], r[:, i]) for i in range(30)]
    np.testing.assert_allclose(klom.klom_per_example(u, r), want, rtol=1e-12, atol=1e-15)


def test_identical_samples_score_zero_and_copies_are_integer_weights():
    rng = np.random.default_rng(4)
    u, r = rng.normal(size=(6, 10)), rng.normal(size=(6, 10))
    assert np.all(klom.klom_per_example(u, u) == 0)
    w_u, w_r = np.array([[2, 0, 1, 1, 1, 1]]), np.array([[0, 0, 3, 1, 1, 1]])
    got = klom.klom_per_example(u, r, weights_u=w_u, weights_r=w_r)[0]
    copies = lambda x, w: np.repeat(x, w[0], axis=0)          # noqa: E731
    want = klom.klom_per_example(copies(u, w_u), copies(r, w_r))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_margins_by_hand():
    logits = np.array([[[2.0, 0.0, 0.0], [1.0, 1.0, 1.0]]])
    m = klom.margins(logits, np.array([0, 2]))
    assert m[0, 0] == pytest.approx(2.0 - np.log(2.0))
    assert m[0, 1] == pytest.approx(1.0 - (1.0 + np.log(2.0)))


def test_weighted_percentile_is_numpys_on_repeated_values():
    rng = np.random.default_rng(5)
    v = rng.normal(size=12)
    w = rng.integers(0, 4, 12)
    w[0] = 1
    for q in (0, 37.5, 95, 100):
        assert klom.weighted_percentile(v, q, w) == pytest.approx(np.percentile(np.repeat(v, w), q))
        assert klom.weighted_percentile(v, q) == pytest.approx(np.percentile(v, q))


def test_tow_by_hand():
    acc_u = {"forget": [0.5, 0.7], "retain": [0.9, 0.9], "test": [0.4, 0.6]}
    acc_r = {"forget": [0.3], "retain": [0.8], "test": [0.5]}
    assert klom.tow(acc_u, acc_r) == pytest.approx((1 - 0.3) * (1 - 0.1) * (1 - 0.0))
    got = klom.tow(acc_u, acc_r, weights_u=np.array([[2.0, 0.0]]), weights_r=np.array([[1.0]]))
    assert got[0] == pytest.approx((1 - 0.2) * (1 - 0.1) * (1 - 0.1))


@pytest.mark.parametrize("bins, clip, message", [(1, 100.0, "bins: must be ≥ 2, got 1"),
                                                 (2.5, 100.0, "bins: expected int, got float 2.5"),
                                                 (20, 0.0, "clip: must be > 0")])
def test_bad_settings_are_named(bins, clip, message):
    with pytest.raises(ValueError, match=message):
        klom.check(bins, clip)


def test_kendall_tau_by_hand_and_with_ties():
    from unlearn.scoring.agreement import kendall_tau
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # one discordant pair of six: (5 − 1) / 6
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # a tie in b: 2 concordant, 3 discordant pairs, 5 untied in b: τ-b = (2 − 3) / sqrt(6 · 5)
    assert kendall_tau([1, 2, 3, 4], [1, 2, 2, 0]) == pytest.approx((2 - 3) / np.sqrt(6 * 5))
    per_replicate = kendall_tau(np.array([[1, 1], [2, 2], [3, 3]]), np.array([[1, 3], [2, 2], [3, 1]]))
    assert per_replicate.tolist() == [1.0, -1.0]


def test_calibration_separation_by_hand():
    from unlearn.scoring.agreement import calibration_separation
    rows = [{"method": "retrain", "calibration": "reference"},
            {"method": "original", "calibration": "untouched"}, {"method": "finetune"}]
    reps = {"score": np.array([[0.5, 0.6, 0.7, 0.2], [0.1, 0.1, 0.1, 0.1], [0.3] * 4]),
            "klom_forget": np.array([[1.0, 1.0, 1.0, 1.0], [3.0, 3.0, 3.0, 3.0], [2.0] * 4])}
    got = {label: (p, ok) for label, p, ok in calibration_separation(rows, reps, 0.95)}
    assert got["score (primary)"] == (1.0, True)
    assert got["KLoM forget"] == (1.0, True)          # lower is better: retrain's 1 beats 3
    reps["score"][0, :2] = 0.05                       # retrain below original half the time
    assert calibration_separation(rows, reps, 0.95)[0][1:] == (0.5, False)
