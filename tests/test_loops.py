"""Shared pieces of the methods: the one batcher, class weights, exact top-k masks, the value
checks, and the hooked training pass."""
import pytest
import torch

from method_helpers import make_ctx, one_thread  # noqa: F401
from test_importance import tiny_model
from unlearn.core import checks
from unlearn.training.loops import class_weights, loss_epoch
from unlearn.training.model import module_names
from unlearn.training.train import batch_indices, paired_batches
from unlearn.unlearning.masks import split_flat, top_k_mask


@pytest.mark.parametrize("n, bs, sizes", [(599, 64, [64] * 9 + [23]), (129, 64, [64, 65]),
                                          (50, 64, [50]), (128, 64, [64, 64]), (1, 64, [1])])
def test_batches_cover_once_and_a_single_trailing_example_joins_the_last_batch(n, bs, sizes):
    batches = batch_indices(n, bs, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == sizes
    assert sorted(torch.cat(batches).tolist()) == list(range(n))


def test_paired_batches_restart_the_forget_pass():
    # 200 retain / 64 forget images, batch 50: 4 retain batches, forget in 50 + 14
    pairs = list(paired_batches(200, 64, 50, torch.Generator().manual_seed(0)))
    assert [(len(r), len(f)) for r, f in pairs] == [(50, 50), (50, 14)] * 2
    forget = [f for _, f in pairs]
    for first, second in (forget[:2], forget[2:]):     # each pass covers the forget set once
        assert sorted(torch.cat([first, second]).tolist()) == list(range(64))
    assert not torch.equal(forget[0], forget[2])       # the restart reshuffles


def test_class_weights():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 3])
    torch.testing.assert_close(class_weights(labels, 4, -1.0),
                               torch.tensor([0.25, 0.5, 0.0, 1.0]))     # absent class: 0
    torch.testing.assert_close(class_weights(labels, 4, -0.1),
                               torch.tensor([4 ** -0.1, 2 ** -0.1, 0.0, 1.0]))


def test_top_k_mask_is_exact_and_breaks_ties_by_position():
    v = torch.tensor([[3.0, 1.0, 2.0], [2.0, 5.0, 2.0]])
    assert top_k_mask(v, 2).tolist() == [[True, False, False], [False, True, False]]
    # three 2.0s tie for the last two places of the top 4: the first two by position win
    assert top_k_mask(v, 4).tolist() == [[True, False, True], [True, True, False]]
    assert top_k_mask(v, 1, largest=False).tolist() == [[False, True, False], [False] * 3]
    assert int(top_k_mask(v, 0).sum()) == 0 and bool(top_k_mask(v, 99).all())
    big = torch.randn(10_001, generator=torch.Generator().manual_seed(0))
    m = top_k_mask(big, 5_000)
    assert int(m.sum()) == 5_000 and big[m].min() > big[~m].max()
    parts = split_flat(torch.arange(5), {"a": torch.zeros(2), "b": torch.zeros(3)})
    assert parts["a"].tolist() == [0, 1] and parts["b"].tolist() == [2, 3, 4]


@pytest.mark.parametrize("check, value, phrase", [
    (checks.fraction, 0.0, "must be in (0, 1], got 0.0"),
    (checks.fraction, 1.5, "must be in (0, 1], got 1.5"),
    (checks.non_negative, -0.1, "must be ≥ 0 and finite, got -0.1"),
    (checks.non_negative, float("inf"), "must be ≥ 0 and finite, got inf"),
    (checks.positive, 0, "must be > 0 and finite, got 0"),
    (checks.at_least(1), 0, "must be ≥ 1, got 0"),
    (checks.one_of("a", "b"), "c", "must be one of 'a', 'b', got 'c'"),
    (checks.fraction, "half", "expected a number, got str 'half'"),
    (module_names(torch.nn.Conv2d), ["conv1", "fc"], "'fc' is not a Conv2d of resnet18"),
    (module_names(torch.nn.Linear), ["fc", "fc"], "a layer is named twice"),
    (module_names(torch.nn.Linear), [], "must name at least 1 layer"),
])
def test_checks_name_what_is_wrong(check, value, phrase):
    assert phrase in check(value)


@pytest.mark.parametrize("check, value", [
    (checks.fraction, 1.0), (checks.fraction, 1e-9), (checks.non_negative, 0.0),
    (checks.positive, 1e-12), (checks.at_least(0), 0), (checks.one_of("a"), "a"),
    (module_names(torch.nn.Conv2d, torch.nn.Linear), ["conv1", "fc", "layer4.1.conv2"]),
])
def test_checks_accept_good_values(check, value):
    assert check(value) is None


def test_loss_epoch_hooks_labels_and_step_limit():
    ctx = make_ctx(n_retain=30)
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    labels = torch.full((30,), 3)
    seen, events = [], []

    def loss_fn(logits, y, index):
        seen.append((y.tolist(), index.tolist()))
        return torch.nn.functional.cross_entropy(logits, y)

    steps = loss_epoch(model, ctx.retain, opt, loss_fn, batch_size=8, generator=ctx.generator,
                       device=ctx.device, labels=labels, max_steps=3,
                       before_step=lambda: events.append(
                           ("before", model.fc.weight.grad is not None)),
                       after_step=lambda: events.append(("after", None)))
    assert steps == 3 and len(seen) == 3
    assert all(y == [3] * len(i) for y, i in seen)          # the replacement labels are used
    assert events == [("before", True), ("after", None)] * 3
