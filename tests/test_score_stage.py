"""The score stage's handling of runs whose method diverged (non-finite logits)."""
import torch

from unlearn.scoring.method_scores import diverged_runs, local_test_size, sanitize


def test_diverged_runs_are_counted_and_scored_as_uniform():
    good = torch.randn(3, 5, 8)
    logits = {"forget": good.clone(), "test": good.clone()}
    logits["forget"][1, 2, 3] = float("nan")
    logits["test"][2, 0, 0] = float("inf")
    assert diverged_runs(logits) == 2
    clean = sanitize(logits)
    assert all(torch.isfinite(v).all() for v in clean.values())
    assert clean["forget"][1, 2, 3] == 0 and torch.equal(clean["forget"][0], good[0])


def test_local_test_size_keeps_the_notebook_default_from_ten_runs():
    assert local_test_size(None, 10) is None        # sklearn's 10 %
    assert local_test_size(None, 3) == 2            # one test example per side
    assert local_test_size(0.5, 3) == 0.5
