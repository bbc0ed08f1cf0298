"""bad_teacher_sim: similarity sampling, similarity weights, destructive/reconstructive
alternation, the briefly trained bad teacher, and a runner smoke run."""
import pytest
import torch

import unlearn.methods.bad_teacher_sim as bts
from method_helpers import one_thread, rand_split  # noqa: F401 (autouse fixture)
from unlearn.core.errors import UserError
from unlearn.methods import UnlearnContext, method_config
from unlearn.training.model import build_model
from unlearn.runner import run_unlearning

CPU = torch.device("cpu")


# 2 forget × 8 retain similarities; column max: .9 .1 .8 .2 .7 .3 .0 .6
SIM = torch.tensor([[0.9, 0.1, 0.2, 0.2, 0.7, 0.3, 0.0, 0.1],
                    [0.5, 0.0, 0.8, 0.1, 0.6, 0.2, 0.0, 0.6]])


def test_sampler_takes_the_most_similar_share_then_random_others():
    g = torch.Generator().manual_seed(0)
    index, n_sim = bts.similarity_sample(SIM, 6, 0.5, g)
    assert n_sim == 3 and index[:3].tolist() == [0, 2, 4]          # the three best, in order
    rest = index[3:].tolist()
    assert len(rest) == 3 and not set(rest) & {0, 2, 4} and len(set(rest)) == 3
    # α = 1: only similar ones; α = 0: no guaranteed similar ones
    assert bts.similarity_sample(SIM, 4, 1.0, g)[0].tolist() == [0, 2, 4, 7]
    assert bts.similarity_sample(SIM, 4, 0.0, g)[1] == 0
    # random part depends on the generator only
    a = bts.similarity_sample(SIM, 6, 0.5, torch.Generator().manual_seed(5))[0]
    b = bts.similarity_sample(SIM, 6, 0.5, torch.Generator().manual_seed(5))[0]
    assert torch.equal(a, b)
    with pytest.raises(UserError):
        bts.similarity_sample(SIM, 4, 1.5, g)


def test_weights_grow_with_the_number_of_forget_images_an_image_is_near():
    # k = 2: forget 0 picks {0, 4}; forget 1 picks {2, 4} (0.6 tie 4 vs 7 → lower index)
    index = torch.tensor([4, 0, 2, 1])
    w = bts.similarity_weights(SIM, index, neighbours=2, weight_scale=1.0)
    assert w.mean().item() == pytest.approx(1.0)
    assert w[0] > w[1] == w[2] > w[3]                                # counts 2, 1, 1, 0
    assert (w[0] / w[3]).item() == pytest.approx(3.0)                # (1 + 2) / (1 + 0)
    flat = bts.similarity_weights(SIM, index, neighbours=2, weight_scale=0.0)
    assert torch.allclose(flat, torch.ones(4))


def make_ctx(n_forget=6, n_retain=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    return UnlearnContext(retain=rand_split(n_retain, g), forget=rand_split(n_forget, g),
                          val=None, device=CPU, seed=seed, num_classes=8)


def test_steps_alternate_destructive_and_reconstructive(monkeypatch):
    ctx = make_ctx(n_forget=6, n_retain=30)
    calls = []
    real_d, real_r = bts.destructive_loss, bts.reconstructive_loss
    monkeypatch.setattr(bts, "destructive_loss", lambda model, x, *a: (
        calls.append(("D", len(x))) or real_d(model, x, *a)))
    monkeypatch.setattr(bts, "reconstructive_loss", lambda model, x, *a: (
        calls.append(("R", len(x))) or real_r(model, x, *a)))
    monkeypatch.setattr(bts, "train_bad_teacher", lambda model, *a: model)
    torch.manual_seed(0)
    cfg = method_config("bad_teacher_sim", {"epochs": 2, "batch_size": 6})
    bts.bad_teacher_sim(build_model(8), ctx, cfg)
    kinds = [k for k, _ in calls]
    # retain subset 3 × 6 = 18 → 3 retain batches of 6 per epoch, forget batch ceil(6·6/18) = 2
    assert kinds == ["D", "R"] * 6
    per_epoch = calls[:6]
    assert sum(n for k, n in per_epoch if k == "R") == 18
    assert sum(n for k, n in per_epoch if k == "D") == 6             # each forget image once


def test_bad_teacher_is_trained_briefly_or_left_random(monkeypatch):
    ctx = make_ctx()
    torch.manual_seed(0)
    fresh = build_model(8)
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    same = bts.train_bad_teacher(fresh, ctx, steps=0, lr=1e-3, batch_size=8)
    assert all(torch.equal(v, before[k]) for k, v in same.state_dict().items())
    steps = []
    real = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step",
                        lambda self, *a, **k: steps.append(1) or real(self, *a, **k))
    bts.train_bad_teacher(fresh, ctx, steps=5, lr=1e-3, batch_size=8)   # 30/8 → cycles
    assert len(steps) == 5
    assert any(not torch.equal(v, before[k]) for k, v in fresh.state_dict().items())


def test_runner_smoke():
    g = torch.Generator().manual_seed(2)
    splits = {"forget": rand_split(6, g), "retain": rand_split(30, g),
              "val": rand_split(6, g), "test": rand_split(6, g)}
    torch.manual_seed(0)
    state = build_model(8).state_dict()
    cfg = method_config("bad_teacher_sim", {"epochs": 1, "batch_size": 6,
                                            "bad_teacher_steps": 2, "bad_teacher_batch_size": 6})
    res = run_unlearning("bad_teacher_sim", cfg, state, splits, seed=3, device=CPU,
                         num_classes=8)
    assert res.logits["forget"].shape == (6, 8) and torch.isfinite(res.logits["test"]).all()
    assert any(not torch.equal(v, state[k]) for k, v in res.model.state_dict().items())
