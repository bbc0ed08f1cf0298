"""Static report figures (unlearn/scoring/figures.py): deterministic bytes, no run-specific metadata."""
import numpy as np

from unlearn.scoring import figures


def test_bucket_shares_count_every_example_once():
    shares = figures.bucket_shares([0.0, 0.4, 0.5, 1.2, 7.0, 50.0], np.arange(4) * 0.5)
    assert shares.tolist() == [2 / 6, 1 / 6, 1 / 6, 2 / 6]       # last bucket: >= 1.5


def _pngs(seed):
    rng = np.random.default_rng(seed)
    rows = [{"method": m, "value": v, "ci": ci}
            for m, v, ci in [("retrain", 0.3, [0.2, 0.4]), ("finetune", 0.2, None),
                             ("original", 0.01, [0, 0.02])]]
    scores = figures.png_bytes(figures.scores_figure([("score", rows)], 0.95))
    eps = {"official": {m: rng.uniform(0, 3, 20) for m in ("retrain", "finetune")}}
    hist = figures.png_bytes(figures.eps_histogram_figure(
        eps, [("official", np.arange(5) * 0.5, "official ε")], ["retrain", "finetune"],
        reference="retrain"))
    return scores, hist


def test_pngs_are_byte_identical_for_the_same_data_and_carry_no_software_tag():
    a, b = _pngs(0), _pngs(0)
    assert a == b and a[1] != _pngs(1)[1]
    for png in a:
        assert png.startswith(b"\x89PNG") and b"Software" not in png and b"matplotlib" not in png
