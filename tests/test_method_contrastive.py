"""contrastive (fanchuan, Kaggle 2nd place): stage 1 pulls forget predictions to uniform,
the forget-round loss matches its formula by hand, the cosine schedule, a smoke run."""
import math

import pytest
import torch

import unlearn.methods.contrastive as con
from method_helpers import one_thread, rand_split  # noqa: F401 (autouse fixture)
from unlearn.methods import UnlearnContext, method_config
from unlearn.training.model import build_model
from unlearn.runner import run_unlearning
from unlearn.training.train import logits_of

CPU = torch.device("cpu")


class Tiny(torch.nn.Module):
    """A linear classifier on 4×4 images: fast, no BatchNorm, so any mode gives one answer."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3 * 4 * 4, 8)
        with torch.no_grad():
            self.fc.weight.mul_(5)            # confident predictions to start from

    def forward(self, x):
        return self.fc(x.flatten(1))


def tiny_ctx(n_forget=8, n_retain=24):
    g = torch.Generator().manual_seed(0)
    return UnlearnContext(retain=rand_split(n_retain, g, px=4),
                          forget=rand_split(n_forget, g, px=4),
                          val=None, device=CPU, seed=0, num_classes=8)


def entropy(logits):
    p = logits.softmax(1)
    return -(p * p.clamp_min(1e-12).log()).sum(1).mean().item()


def test_stage1_moves_forget_predictions_to_uniform():
    torch.manual_seed(0)
    model, ctx = Tiny(), tiny_ctx()
    before = logits_of(model, ctx.forget.images, CPU)
    cfg = method_config("contrastive", {"batch_size": 4, "stage1_lr": 0.05})
    opt1, *_ = con.make_optimizers(model, cfg, len(ctx.forget))
    for _ in range(5):
        con.stage1(model, ctx, opt1, 4)
    after = logits_of(model, ctx.forget.images, CPU)
    assert entropy(after) > entropy(before) + 0.1
    assert con.uniform_kl_loss(after).item() < 0.7 * con.uniform_kl_loss(before).item()
    # KL(uniform ‖ p) by hand for one row
    p = before[:1].softmax(1)
    by_hand = (1 / 8 * (math.log(1 / 8) - p.log())).sum().item()
    assert con.uniform_kl_loss(before[:1]).item() == pytest.approx(by_hand, rel=1e-5)


def test_forget_loss_matches_the_formula_by_hand():
    z_f = torch.tensor([[1.0, 0.0], [0.0, 2.0]], requires_grad=True)
    z_r = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], requires_grad=True)
    t = 1.15
    # S = z_f z_rᵀ / t = [[1, 0, 1], [0, 2, 2]] / t; log-softmax along each row (retain axis)
    rows = [[1.0, 0.0, 1.0], [0.0, 2.0, 2.0]]
    total = 0.0
    for row in rows:
        s = [v / t for v in row]
        lse = math.log(sum(math.exp(v) for v in s))
        total += sum(lse - v for v in s)
    expected = total / 6
    loss = con.contrastive_forget_loss(z_f, z_r, t)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    # normalising along the forget axis instead would give another number
    wrong = (-torch.log_softmax(z_f @ z_r.T / t, dim=0)).mean().item()
    assert abs(wrong - expected) > 1e-3
    loss.backward()
    assert z_r.grad is None and z_f.grad is not None               # z_r detached


def test_scheduler_tmax_eta_min_and_retain_lr():
    torch.manual_seed(0)
    model, ctx = Tiny(), tiny_ctx(n_forget=10)
    cfg = method_config("contrastive", {"batch_size": 4, "epochs": 3})
    opt1, opt_f, opt_r, sched = con.make_optimizers(model, cfg, len(ctx.forget))
    assert sched.T_max == 3 * 3 and sched.eta_min == pytest.approx(1e-6)   # ceil(10/4) = 3
    assert opt_r.param_groups[0]["lr"] == pytest.approx(1e-3 * 4 / 64)
    assert opt_r.param_groups[0]["weight_decay"] == pytest.approx(1e-2)
    assert opt1.param_groups[0]["lr"] == pytest.approx(5e-3)
    assert con.forget_round_steps(100, 256, 8) == 8
    for _ in range(3):
        con.forget_round(model, ctx, opt_f, sched, 4, 1.15)
    assert opt_f.param_groups[0]["lr"] == pytest.approx(1e-6)              # annealed to eta_min
    assert sched.last_epoch == 9                                           # stepped per batch


def test_method_calls_rounds_in_order(monkeypatch):
    calls = []
    monkeypatch.setattr(con, "stage1", lambda *a: calls.append("S"))
    monkeypatch.setattr(con, "forget_round", lambda *a: calls.append("F"))
    monkeypatch.setattr(con, "retain_round", lambda *a: calls.append("R"))
    con.contrastive(Tiny(), tiny_ctx(), method_config("contrastive", {"epochs": 3}))
    assert calls == ["S"] + ["F", "R"] * 3


def test_runner_smoke():
    g = torch.Generator().manual_seed(2)
    splits = {"forget": rand_split(6, g), "retain": rand_split(20, g),
              "val": rand_split(6, g), "test": rand_split(6, g)}
    torch.manual_seed(0)
    state = build_model(8).state_dict()
    cfg = method_config("contrastive", {"epochs": 1, "batch_size": 6})
    res = run_unlearning("contrastive", cfg, state, splits, seed=3, device=CPU, num_classes=8)
    assert res.logits["forget"].shape == (6, 8) and torch.isfinite(res.logits["test"]).all()
    assert any(not torch.equal(v, state[k]) for k, v in res.model.state_dict().items())
