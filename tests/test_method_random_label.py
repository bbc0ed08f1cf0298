"""random_label (Golatkar et al., as in SalUn's RL.py): each epoch a pass over D_f with
freshly drawn labels, then a pass over D_r with the true ones."""
import torch

import unlearn.training.loops as loops
from method_helpers import make_ctx, one_thread  # noqa: F401
from test_importance import tiny_model
from unlearn.training.loops import random_labels
from unlearn.methods import get_method, method_config


def test_random_labels_uniform_over_all_or_over_the_wrong_ones():
    true = torch.arange(8).repeat(1000)                     # 8 classes, 8,000 examples
    g = torch.Generator().manual_seed(0)
    drawn = random_labels(true, 8, g)
    counts = torch.bincount(drawn, minlength=8).float()
    assert counts.min() > 900 and counts.max() < 1100      # uniform over all 8 classes
    assert 0.10 < (drawn == true).float().mean() < 0.15    # the true one drawn ~1/8 of the time
    wrong = random_labels(true, 8, g, exclude_true=True)
    assert not bool((wrong == true).any())                  # never the true label
    for c in range(8):                                      # and uniform over the other 7
        others = torch.bincount(wrong[true == c], minlength=8).float()
        assert others[c] == 0 and others.sum() == 1000
        assert others[torch.arange(8) != c].min() > 100


def test_each_epoch_forgets_with_fresh_random_labels_then_retains(monkeypatch):
    ctx = make_ctx(n_retain=20, n_forget=12)
    passes = []
    real = loops.loss_epoch

    def spy(model, split, opt, loss_fn, labels=None, **kw):
        passes.append((split, None if labels is None else labels.clone()))
        return real(model, split, opt, loss_fn, labels=labels, **kw)

    monkeypatch.setattr(loops, "loss_epoch", spy)
    cfg = method_config("random_label", {"epochs": 3, "batch_size": 8, "exclude_true": True})
    get_method("random_label").fn(tiny_model(), ctx, cfg)
    assert [s is ctx.forget for s, _ in passes] == [True, False] * 3
    forget_labels = [lab for s, lab in passes if s is ctx.forget]
    assert all(lab is None for s, lab in passes if s is ctx.retain)   # true retain labels
    for lab in forget_labels:
        assert not bool((lab == ctx.forget.labels).any())
    assert not torch.equal(forget_labels[0], forget_labels[1])         # drawn afresh
