"""gisa (the study's method, docs/methods.md#gisa): per-tensor learning rates from the study's
formula, one optimiser group per tensor; JointLoss = RetainLoss²/(ForgetLoss + ε); one step's
update is −η_i ∇JointLoss; runner smoke run."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

import unlearn.methods.gisa as gisa_mod
from test_importance import CPU, rand_split, single_thread, tiny_model  # noqa: F401
from unlearn.core.errors import UserError
from unlearn.unlearning.importance import importances
from unlearn.methods import UnlearnContext, method_config
from unlearn.training.model import build_model
from unlearn.runner import run_unlearning
from unlearn.training.optim import optimizer_for
from unlearn.training.train import batch, paired_batches


def make_ctx(seed, n_retain, n_forget):
    g = torch.Generator().manual_seed(seed + 20)
    return UnlearnContext(retain=rand_split(n_retain, g), forget=rand_split(n_forget, g),
                          val=rand_split(4, g), device=CPU, seed=seed, num_classes=4)


def test_joint_loss():
    got = gisa_mod.joint_loss(torch.tensor(2.0), torch.tensor(3.0), 1e-8)
    assert got.item() == pytest.approx(4.0 / (3.0 + 1e-8), rel=1e-7)
    r, f = torch.tensor(0.7, requires_grad=True), torch.tensor(1.9, requires_grad=True)
    gr, gf = torch.autograd.grad(gisa_mod.joint_loss(r, f, 0.1), (r, f))
    assert gr.item() == pytest.approx(2 * 0.7 / 2.0)
    assert gf.item() == pytest.approx(-0.49 / 2.0 ** 2)
    # forget loss 0: finite thanks to ε
    assert math.isfinite(gisa_mod.joint_loss(torch.tensor(1.0), torch.tensor(0.0), 1e-8).item())


def test_learning_rates_formula_and_zero_importances():
    eps = 1e-8
    i_f = {"a": torch.tensor([0.0, 1.0, 4.0]), "b": torch.tensor([0.0, 0.0]),
           "c": torch.tensor([[1e-3, 1e-5]])}
    i_r = {"a": torch.tensor([1.0, 1.0, 1.0]), "b": torch.tensor([0.0, 3.0]),
           "c": torch.tensor([[1e-6, 1e-3]])}
    rates = gisa_mod.learning_rates(i_f, i_r, 1e-4, eps)
    assert rates["a"] == pytest.approx(1e-4 * (1 + math.log(4 / (1 + eps)) / 3), rel=1e-6)
    assert rates["b"] == 1e-4            # I_f = 0 everywhere: log 0 → max(−inf, 0) = 0, no NaN
    assert rates["c"] == pytest.approx(1e-4 * (1 + math.log(1e-3 / (1e-6 + eps)) / 2), rel=1e-5)


def test_one_group_per_tensor_and_one_step_is_the_formula(monkeypatch):
    seed, bs, base = 2, 8, 0.3
    ctx = make_ctx(seed, n_retain=bs, n_forget=6)        # one retain batch → one step
    original = tiny_model(seed=4)
    groups_seen = []

    def spy(params, cfg):
        groups_seen.extend(params)
        return optimizer_for(params, cfg)

    monkeypatch.setattr(gisa_mod, "optimizer_for", spy)
    cfg = method_config("gisa", {"optimizer": "sgd", "lr": base, "weight_decay": 0.0,
                                 "batch_size": bs})
    model = gisa_mod.gisa(copy.deepcopy(original), ctx, cfg)

    # learning rates: the study's formula on importances computed here, never below the base
    i_f, i_r = importances(original, ctx.forget, CPU), importances(original, ctx.retain, CPU)
    names = [n for n, _ in original.named_parameters()]
    assert [len(g["params"]) for g in groups_seen] == [1] * len(names)
    assert [g["name"] for g in groups_seen] == names
    want = {}
    for n in names:
        gain = torch.log(i_f[n] / (i_r[n] + 1e-8)).clamp(min=0).double().mean().item()
        want[n] = base * (1 + gain)
    for g in groups_seen:
        assert g["lr"] == pytest.approx(want[g["name"]], rel=1e-12)
        assert g["lr"] >= base
    assert max(want.values()) > base * 1.01                 # the scaling is exercised

    # the step: θ_i ← θ_i − η_i ∇[CE_r² / (CE_f + ε)] on the paired batches
    ref = copy.deepcopy(original).train()
    r, f = next(paired_batches(bs, 6, bs, torch.Generator().manual_seed(seed)))
    x_r, y_r = batch(ctx.retain, r, CPU)
    x_f, y_f = batch(ctx.forget, f, CPU)
    loss = F.cross_entropy(ref(x_r), y_r) ** 2 / (F.cross_entropy(ref(x_f), y_f) + 1e-8)
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    for (n, p1), p0, g in zip(model.named_parameters(), original.parameters(), grads):
        torch.testing.assert_close((p1 - p0).detach(), -want[n] * g, rtol=1e-4, atol=1e-6, msg=n)


def test_bad_params():
    with pytest.raises(UserError, match="eps"):
        gisa_mod.gisa(tiny_model(), make_ctx(0, 8, 4), method_config("gisa", {"eps": 0.0}))


def test_runner_smoke_resnet18():
    g = torch.Generator().manual_seed(0)
    splits = {name: rand_split(n, g, px=16, classes=8)
              for name, n in (("retain", 24), ("forget", 6), ("val", 4), ("test", 4))}
    torch.manual_seed(0)
    state = build_model(8).state_dict()
    result = run_unlearning("gisa", method_config("gisa", {"batch_size": 8}), state, splits,
                            seed=0, device=CPU, num_classes=8)
    assert all(torch.isfinite(v).all() for v in result.logits.values())
    assert not torch.equal(result.model.state_dict()["fc.weight"], state["fc.weight"])
