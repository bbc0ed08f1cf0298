"""scrub (Kurmanji et al. 2023): the max step raises KL(teacher ‖ student) on D_f, the min
step's loss is γ·CE + α·KL, msteps and lr milestones are respected, a smoke run."""
import math

import pytest
import torch

import unlearn.methods.scrub as sc
from method_helpers import one_thread, rand_split  # noqa: F401 (autouse fixture)
from unlearn.unlearning.distill import distill_kl
from unlearn.methods import UnlearnContext, method_config
from unlearn.training.model import build_model
from unlearn.runner import run_unlearning
from unlearn.training.train import logits_of

CPU = torch.device("cpu")


class Tiny(torch.nn.Module):
    """Linear classifier on 4×4 images, no BatchNorm: train and eval outputs agree."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3 * 4 * 4, 8)

    def forward(self, x):
        return self.fc(x.flatten(1))


def tiny_ctx(n_forget=8, n_retain=16):
    g = torch.Generator().manual_seed(0)
    return UnlearnContext(retain=rand_split(n_retain, g, px=4),
                          forget=rand_split(n_forget, g, px=4),
                          val=None, device=CPU, seed=0, num_classes=8)


def test_max_step_increases_kl_teacher_to_student():
    torch.manual_seed(0)
    ctx = tiny_ctx()
    teacher = Tiny()
    student = Tiny()
    student.load_state_dict(teacher.state_dict())
    with torch.no_grad():                     # off the teacher, where KL's gradient vanishes
        student.fc.weight.add_(0.05 * torch.randn_like(student.fc.weight))
    t_logits = logits_of(teacher, ctx.forget.images, CPU)
    kl = lambda: distill_kl(logits_of(student, ctx.forget.images, CPU), t_logits, 4.0).item()
    before = kl()
    opt = torch.optim.SGD(student.parameters(), lr=1.0)
    mean_kl = sc.max_pass(student, ctx.forget, t_logits, opt, ctx, 4, 4.0)
    after = kl()
    assert after > 3 * before
    assert before * 0.5 < mean_kl < after                  # mean over batches, before each step


def test_min_loss_is_gamma_ce_plus_alpha_kl():
    s = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    t = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 3.0]])
    y = torch.tensor([0, 2])
    T, gamma, alpha = 2.0, 0.99, 0.5

    def softmax(v):
        e = [math.exp(a) for a in v]
        return [a / sum(e) for a in e]
    ce = sum(-math.log(softmax(si)[yi]) for si, yi in zip(s.tolist(), y.tolist())) / 2
    kl = 0.0
    for si, ti in zip(s.tolist(), t.tolist()):
        ps, pt = softmax([a / T for a in si]), softmax([a / T for a in ti])
        kl += sum(b * math.log(b / a) for a, b in zip(ps, pt))
    expected = gamma * ce + alpha * kl * T ** 2 / 2              # DistillKL: sum · T² / B
    got = sc.min_loss(s, y, t, T, gamma, alpha).item()
    assert got == pytest.approx(expected, abs=1e-6)


def test_epoch_lr_milestones():
    # RepDistiller: decayed once epoch > milestone (epochs from 1)
    large = [sc.epoch_lr(e, 5e-4, [3, 5, 9], 0.1) for e in range(1, 4)]
    assert large == pytest.approx([5e-4] * 3)                     # never decays in 3 epochs
    small = [sc.epoch_lr(e, 1.0, [5, 8, 9], 0.1) for e in range(1, 11)]
    assert small == pytest.approx([1] * 5 + [0.1] * 3 + [0.01, 0.001])


def test_msteps_and_lr_per_epoch(monkeypatch):
    calls = []
    monkeypatch.setattr(sc, "max_pass", lambda model, split, t, opt, *a:
                        calls.append(("max", opt.param_groups[0]["lr"])) or 0.0)
    monkeypatch.setattr(sc, "min_pass", lambda model, split, t, opt, *a:
                        calls.append(("min", opt.param_groups[0]["lr"])) or 0.0)
    cfg = method_config("scrub", {"epochs": 5, "msteps": 2, "lr": 1.0, "milestones": [1, 3]})
    sc.scrub(Tiny(), tiny_ctx(), cfg)
    assert [k for k, _ in calls] == ["max", "min", "max", "min", "min", "min", "min"]
    lrs = [lr for k, lr in calls if k == "min"]
    assert lrs == pytest.approx([1.0, 0.1, 0.1, 0.01, 0.01])
    assert calls[0][1] == pytest.approx(1.0) and calls[2][1] == pytest.approx(0.1)


def test_defaults_are_the_large_scale_setting():
    cfg = method_config("scrub", {})
    assert (cfg.optimizer, cfg.lr, cfg.momentum) == ("sgd", 5e-4, 0.9)
    assert cfg.weight_decay == 5e-4
    assert (cfg.epochs, cfg.msteps, cfg.temperature) == (3, 2, 4.0)
    assert (cfg.gamma, cfg.alpha) == (0.99, 0.001)
    assert (cfg.milestones, cfg.batch_size, cfg.forget_batch_size) == ([3, 5, 9], 128, 32)


def test_runner_smoke():
    g = torch.Generator().manual_seed(2)
    splits = {"forget": rand_split(6, g), "retain": rand_split(20, g),
              "val": rand_split(6, g), "test": rand_split(6, g)}
    torch.manual_seed(0)
    state = build_model(8).state_dict()
    cfg = method_config("scrub", {"epochs": 2, "batch_size": 8, "forget_batch_size": 4})
    res = run_unlearning("scrub", cfg, state, splits, seed=3, device=CPU, num_classes=8)
    assert res.logits["forget"].shape == (6, 8) and torch.isfinite(res.logits["test"]).all()
    assert any(not torch.equal(v, state[k]) for k, v in res.model.state_dict().items())
