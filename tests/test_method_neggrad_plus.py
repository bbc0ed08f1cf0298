"""neggrad_plus (Kurmanji et al. 2023): the L2-to-θ_0 term and its gradient, the α
combination, two-step reference runs in both BatchNorm modes (train: the ResNet default;
eval: frozen statistics, the small-scale preset), the defaults, no divergence on a
ResNet-18 whose retain set leaves a short tail batch; runner smoke run."""
import copy

import pytest
import torch
import torch.nn.functional as F

import unlearn.methods.neggrad_plus as ngp
import unlearn.training.train as train
from method_helpers import assert_same_parameters, plain_sgd_step
from test_importance import CPU, rand_split, single_thread, tiny_model  # noqa: F401
from unlearn.methods import UnlearnContext, method_config
from unlearn.training.model import build_model
from unlearn.runner import run_unlearning
from unlearn.training.train import paired_batches
from unlearn.training.train import batch


def make_ctx(seed, n_retain, n_forget):
    g = torch.Generator().manual_seed(seed + 30)
    return UnlearnContext(retain=rand_split(n_retain, g), forget=rand_split(n_forget, g),
                          val=rand_split(4, g), device=CPU, seed=seed, num_classes=4)


def test_l2_to_initial_value_and_gradient():
    model = tiny_model(seed=0)
    initial = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    wd = 5e-4
    l2 = ngp.l2_to_initial(model.parameters(), initial, wd)
    want = wd / 2 * sum(((p - p0) ** 2).sum() for p, p0 in zip(model.parameters(), initial))
    assert l2.item() == pytest.approx(want.item(), rel=1e-6)
    grads = torch.autograd.grad(l2, list(model.parameters()))
    for g, p, p0 in zip(grads, model.parameters(), initial):
        torch.testing.assert_close(g, wd * (p.detach() - p0))
    # zero at θ = θ_0
    assert ngp.l2_to_initial(initial, initial, wd).item() == 0.0


def test_loss_combination():
    terms = ngp.neggrad_plus_terms(lambda: torch.tensor(2.0), lambda: torch.tensor(3.0),
                                   torch.tensor(0.5), 0.95)
    assert [t.item() for t in terms] == pytest.approx([0.95 * (2.0 + 0.5), -0.05 * 3.0])


@pytest.mark.parametrize("bn_mode", ["train", "eval"])
def test_two_steps_match_reference(bn_mode):
    seed, bs, lr, wd, alpha = 1, 8, 0.2, 5.0, 0.8   # large wd: the L2 term moves step 2
    ctx = make_ctx(seed, n_retain=2 * bs, n_forget=5)
    original = tiny_model(seed=2)
    cfg = method_config("neggrad_plus", {"lr": lr, "momentum": 0.0, "weight_decay": wd,
                                         "alpha": alpha, "batch_size": bs,
                                         "bn_mode": bn_mode})
    model = ngp.neggrad_plus(copy.deepcopy(original), ctx, cfg)

    # reference: the same batches, explicit formula, plain gradient steps, same BN mode
    ref = copy.deepcopy(original).train(bn_mode == "train")
    theta0 = [p.detach().clone() for p in ref.parameters()]
    for r, f in paired_batches(2 * bs, 5, bs, torch.Generator().manual_seed(seed)):
        x_r, y_r = batch(ctx.retain, r, CPU)
        x_f, y_f = batch(ctx.forget, f, CPU)
        l2 = wd / 2 * sum(((p - p0) ** 2).sum() for p, p0 in zip(ref.parameters(), theta0))
        ce_r, ce_f = F.cross_entropy(ref(x_r), y_r), F.cross_entropy(ref(x_f), y_f)
        loss = alpha * (ce_r + l2) - (1 - alpha) * ce_f
        plain_sgd_step(ref, loss, lr)
    assert_same_parameters(model, ref)
    moved = max((p - p0).abs().max().item() for p, p0 in zip(model.parameters(), theta0))
    assert moved > 1e-3
    # BatchNorm running statistics: updated as the reference's in train mode, untouched in eval
    for (name, b), b_ref, b0 in zip(model.named_buffers(), ref.buffers(), original.buffers()):
        torch.testing.assert_close(b, b_ref, msg=name)
        assert torch.equal(b, b0) == (bn_mode == "eval"), name


def test_defaults_are_the_resnet_setting():
    cfg = method_config("neggrad_plus", {})
    got = (cfg.alpha, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.bn_mode,
           cfg.epochs)
    assert got == (0.9999, 0.01, 0.0, 0.0, "train", 1)


def test_default_does_not_diverge_with_a_short_tail_batch(monkeypatch):
    """135 retain images = 2 × 64 + 7: the one batcher (train.batch_indices) keeps the
    7-image tail; in train mode its step's gradient is larger (unlearn/training/loops.py),
    yet every step's loss stays bounded and the weights finite."""
    g = torch.Generator().manual_seed(0)
    ctx = UnlearnContext(retain=rand_split(135, g, px=16, classes=8),
                         forget=rand_split(10, g, px=16, classes=8), val=rand_split(4, g),
                         device=CPU, seed=0, num_classes=8)
    torch.manual_seed(0)
    model = build_model(8)
    retain_sizes, losses = [], []
    real_batch, real_terms = train.batch, ngp.neggrad_plus_terms

    def spy_batch(split, index, *args):
        if split is ctx.retain:
            retain_sizes.append(len(index))
        return real_batch(split, index, *args)

    def spy_terms(retain_ce, forget_ce, l2, alpha):
        def recorded():
            ce = retain_ce()
            losses.append(ce.item())
            return ce
        return real_terms(recorded, forget_ce, l2, alpha)

    monkeypatch.setattr(train, "batch", spy_batch)   # the paired step gathers through it
    monkeypatch.setattr(ngp, "neggrad_plus_terms", spy_terms)
    ngp.neggrad_plus(model, ctx, method_config("neggrad_plus", {}))
    assert retain_sizes == [64, 64, 7]                  # the one batcher: a short tail
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert max(losses) < 10.0                           # CE over 8 classes starts near 2.1


def test_runner_smoke_resnet18():
    g = torch.Generator().manual_seed(0)
    splits = {name: rand_split(n, g, px=16, classes=8)
              for name, n in (("retain", 24), ("forget", 6), ("val", 4), ("test", 4))}
    torch.manual_seed(0)
    state = build_model(8).state_dict()
    result = run_unlearning("neggrad_plus", method_config("neggrad_plus", {"batch_size": 8}),
                            state, splits, seed=0, device=CPU, num_classes=8)
    assert all(torch.isfinite(v).all() for v in result.logits.values())
    after = result.model.state_dict()
    assert not torch.equal(after["fc.weight"], state["fc.weight"])
    # train mode (the default): BatchNorm running statistics follow the batches
    assert not torch.equal(after["bn1.running_mean"], state["bn1.running_mean"])
