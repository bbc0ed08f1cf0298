"""prune_reinit (S. Oleszko): the 99% smallest-|value| conv/linear entries pruned globally
and re-initialised (weights U(±√(1/fan_in)), biases 0), entropy matching against the
original, int(batches × epochs) steps, the float16 round trip."""
import copy
import math

import pytest
import torch

import unlearn.methods.prune_reinit as pr
from method_helpers import make_ctx, one_thread  # noqa: F401
from test_importance import tiny_model
from unlearn.data.splits import to_float
from unlearn.methods import method_config


def test_global_prune_of_the_smallest_share_then_reinit():
    model = tiny_model()
    before = {n: t.detach().clone() for n, t in pr.prunable(model).items()}
    bn_before = [t.detach().clone() for t in model.bn1.parameters()]
    masks = pr.prune_and_reinit(model, 0.9, torch.Generator().manual_seed(0))
    assert any(n.endswith(".bias") for n in masks)                     # biases take part
    flat = torch.cat([t.abs().flatten() for t in before.values()])
    pruned = torch.cat([m.flatten() for m in masks.values()])
    assert int(pruned.sum()) == round(0.9 * flat.numel())              # global count
    assert flat[pruned].max() <= flat[~pruned].min()                   # smallest |value|
    shares = [m.float().mean().item() for m in masks.values()]
    assert min(shares) != max(shares)                                  # one global threshold
    after = pr.prunable(model)
    for name, m in masks.items():
        new, old = after[name].detach(), before[name]
        assert torch.equal(new[~m], old[~m]), name                    # kept: unchanged
        if name.endswith(".bias"):
            assert bool((new[m] == 0).all()), name                    # pruned biases: 0
        else:
            bound = math.sqrt(1.0 / pr.fan_in(new))
            assert bool((new[m].abs() <= bound).all()), name          # U(±√(1/fan_in))
            assert new[m].std() > bound / 3, name                      # spread, not zeros
    assert all(torch.equal(a, b) for a, b in zip(model.bn1.parameters(), bn_before))


def test_entropy_matching_loss():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    teacher = torch.tensor([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    y = torch.tensor([0, 2])
    w = torch.tensor([1.0, 1.0, 0.5])

    def h(z):
        p = z.softmax(1)
        return -(p * p.log()).sum(1)

    ce = torch.nn.functional.cross_entropy(logits, y, weight=w)
    want = ce + ((h(logits) - h(teacher)) ** 2).mean()
    assert pr.entropy_matching_loss(logits, y, teacher, w).item() == pytest.approx(want.item())


def test_step_count_and_half_precision_round_trip(monkeypatch):
    ctx = make_ctx(n_retain=40)
    steps = []
    real = pr.entropy_matching_loss
    monkeypatch.setattr(pr, "entropy_matching_loss",
                        lambda *a: steps.append(1) or real(*a))
    cfg = method_config("prune_reinit", {"epochs": 1.6, "batch_size": 8, "prune_fraction": 0.5})
    model = pr.prune_reinit(tiny_model(), ctx, cfg)
    assert len(steps) == int(5 * 1.6)                                  # 5 batches per epoch
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            assert torch.equal(t, t.half().float())


def test_the_target_entropies_are_the_originals(monkeypatch):
    ctx = make_ctx(n_retain=16)
    original = tiny_model()
    seen = {}
    real = pr.entropy_matching_loss

    def capture(logits, y, teacher_logits, weights):
        seen.setdefault("teacher", teacher_logits.detach().clone())
        return real(logits, y, teacher_logits, weights)

    monkeypatch.setattr(pr, "entropy_matching_loss", capture)
    order = []
    real_epoch = pr.loss_epoch

    def spy_epoch(model, split, opt, loss_fn, **kw):
        def wrapped(z, y, index):
            order.append(index.clone())
            return loss_fn(z, y, index)
        return real_epoch(model, split, opt, wrapped, **kw)

    monkeypatch.setattr(pr, "loss_epoch", spy_epoch)
    pr.prune_reinit(copy.deepcopy(original), ctx,
                    method_config("prune_reinit", {"epochs": 0.5, "batch_size": 8}))
    original.eval()
    want = original(to_float(ctx.retain.images[order[0]]))
    torch.testing.assert_close(seen["teacher"], want.detach())
