"""neggrad (advanced NegGrad, Choi & Na): the first step follows −∇[CE(retain) − λ·CE(forget)]
on the paired batches, the forget iterator restarts, and a runner smoke run."""
import copy
import weakref

import pytest
import torch
import torch.nn.functional as F

import unlearn.methods.neggrad as ng
import unlearn.training.train as train
from test_importance import CPU, rand_split, single_thread, tiny_model  # noqa: F401
from unlearn.methods import UnlearnContext, get_method, method_config
from unlearn.training.model import build_model
from unlearn.runner import run_unlearning
from unlearn.training.train import batch, paired_batches


def make_ctx(seed, n_retain, n_forget):
    g = torch.Generator().manual_seed(seed + 10)
    return UnlearnContext(retain=rand_split(n_retain, g), forget=rand_split(n_forget, g),
                          val=rand_split(4, g), device=CPU, seed=seed, num_classes=4)


def test_loss_terms():
    terms = list(ng.neggrad_terms(lambda: torch.tensor(2.0), lambda: torch.tensor(3.0), 0.1))
    assert [t.item() for t in terms] == pytest.approx([2.0, -0.3])   # sum 1.7


class LiveSaved:
    """Counts the tensors autograd holds for backward (saved_tensors_hooks), and the peak."""

    def __init__(self):
        self.live = self.peak = 0

    def pack(self, tensor):
        box = Box(tensor)
        self.live += 1
        self.peak = max(self.peak, self.live)
        weakref.finalize(box, self.release)   # runs when the graph drops the box
        return box

    def release(self):
        self.live -= 1

    @staticmethod
    def unpack(box):
        return box.tensor


class Box:
    def __init__(self, tensor):
        self.tensor = tensor


@pytest.mark.parametrize("method", ["neggrad", "neggrad_plus"])
def test_one_batch_graph_alive_at_a_time(method):
    """The retain term is backpropagated (its graph freed) before the forget batch's forward
    pass: the step holds as many saved activations as one batch's forward, not two."""
    bs = 8
    ctx = make_ctx(0, n_retain=bs, n_forget=bs)            # one pair → one step
    one_batch = LiveSaved()
    model = tiny_model(seed=1).train()
    with torch.autograd.graph.saved_tensors_hooks(one_batch.pack, one_batch.unpack):
        x, y = batch(ctx.retain, torch.arange(bs), CPU)
        F.cross_entropy(model(x), y).backward()
    step = LiveSaved()
    cfg = method_config(method, {"batch_size": bs})
    with torch.autograd.graph.saved_tensors_hooks(step.pack, step.unpack):
        get_method(method).fn(tiny_model(seed=1), ctx, cfg)
    assert one_batch.peak > 0
    assert step.peak == one_batch.peak                     # two graphs at once: 2×


@pytest.mark.parametrize("lam", [0.1, 1.0])
def test_first_step_is_gradient_of_retain_minus_lambda_forget(lam):
    seed, bs, lr = 3, 8, 0.5
    ctx = make_ctx(seed, n_retain=bs, n_forget=5)       # one retain batch → exactly one step
    original = tiny_model(seed=1)
    cfg = method_config("neggrad", {"optimizer": "sgd", "lr": lr, "weight_decay": 0.0,
                                    "momentum": 0.0, "batch_size": bs, "lam": lam})
    model = ng.neggrad(copy.deepcopy(original), ctx, cfg)

    # reference: the same pair of batches (same seeded generator), autograd of the formula
    ref = copy.deepcopy(original).train()
    r, f = next(paired_batches(bs, 5, bs, torch.Generator().manual_seed(seed)))
    x_r, y_r = batch(ctx.retain, r, CPU)
    x_f, y_f = batch(ctx.forget, f, CPU)
    loss = F.cross_entropy(ref(x_r), y_r) - lam * F.cross_entropy(ref(x_f), y_f)
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    for (name, p1), p0, g in zip(model.named_parameters(), original.parameters(), grads):
        delta = (p1 - p0).detach()
        torch.testing.assert_close(delta, -lr * g, rtol=1e-4, atol=1e-6, msg=name)
    assert max(g.abs().max().item() for g in grads) > 1e-3   # a real step was compared


def test_forget_iterator_restarts(monkeypatch):
    ctx = make_ctx(0, n_retain=40, n_forget=12)          # 5 retain batches, 12 = 8 + 4 forget
    forget_batches = []

    def spy(split, index, *args, **kwargs):
        if split is ctx.forget:
            forget_batches.append(index.tolist())
        return batch(split, index, *args, **kwargs)

    monkeypatch.setattr(train, "batch", spy)   # the paired step gathers through it
    ng.neggrad(tiny_model(), ctx, method_config("neggrad", {"batch_size": 8}))
    assert [len(b) for b in forget_batches] == [8, 4, 8, 4, 8]
    first, second = forget_batches[0] + forget_batches[1], forget_batches[2] + forget_batches[3]
    assert sorted(first) == sorted(second) == list(range(12))   # each pass covers D_f once
    assert first != second                                        # ... reshuffled on restart


def test_forget_batch_size_option(monkeypatch):
    ctx = make_ctx(0, n_retain=16, n_forget=12)
    sizes = []

    def spy(split, index, *args, **kwargs):
        if split is ctx.forget:
            sizes.append(len(index))
        return batch(split, index, *args, **kwargs)

    monkeypatch.setattr(train, "batch", spy)   # the paired step gathers through it
    cfg = method_config("neggrad", {"batch_size": 8, "forget_batch_size": 5})
    ng.neggrad(tiny_model(), ctx, cfg)
    assert sizes == [5, 5]


def test_runner_smoke_resnet18():
    g = torch.Generator().manual_seed(0)
    splits = {name: rand_split(n, g, px=16, classes=8)
              for name, n in (("retain", 24), ("forget", 6), ("val", 4), ("test", 4))}
    torch.manual_seed(0)
    state = build_model(8).state_dict()
    result = run_unlearning("neggrad", method_config("neggrad", {"batch_size": 8}), state, splits,
                            seed=0, device=CPU, num_classes=8)
    assert result.seconds > 0
    assert all(torch.isfinite(v).all() for v in result.logits.values())
    assert not torch.equal(result.model.state_dict()["fc.weight"], state["fc.weight"])
