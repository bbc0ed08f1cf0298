"""l1_sparse (Jia et al. 2023): CE + γ_e·‖θ‖₁ on D_r with γ_e = α(1 − e/E) per epoch."""
import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F

import unlearn.methods.l1_sparse as l1
from method_helpers import assert_same_parameters, make_ctx, one_thread, plain_sgd_step  # noqa: F401
from test_importance import tiny_model
from unlearn.training.train import batch_indices
from unlearn.methods import method_config
from unlearn.training.train import batch


def test_gamma_decays_linearly_per_epoch():
    assert [l1.l1_gamma(e, 10, 1e-4) for e in range(10)] == pytest.approx(
        [1e-4 * (10 - e) / 10 for e in range(10)])
    assert [l1.l1_gamma(e, 2, 1e-4) for e in range(2)] == pytest.approx([1e-4, 5e-5])


def test_two_epochs_match_sgd_on_ce_plus_scheduled_l1():
    seed, n, lr, alpha = 0, 16, 0.1, 0.05       # one batch per epoch; a large α so it shows
    ctx = make_ctx(seed, n_retain=n)
    original = tiny_model()
    cfg = method_config("l1_sparse", {"alpha": alpha, "lr": lr, "momentum": 0.0,
                                      "weight_decay": 0.0, "epochs": 2, "batch_size": n})
    model = l1.l1_sparse(copy.deepcopy(original), ctx, cfg)

    ref = copy.deepcopy(original).train()
    g = torch.Generator().manual_seed(seed)
    for gamma in (alpha, alpha / 2):
        (index,) = batch_indices(n, n, g)
        x, y = batch(ctx.retain, index, ctx.device)
        loss = F.cross_entropy(ref(x), y) + gamma * sum(p.abs().sum() for p in ref.parameters())
        plain_sgd_step(ref, loss, lr)
    assert_same_parameters(model, ref)
    # the L1 term matters: without it the result differs
    plain = l1.l1_sparse(copy.deepcopy(original), make_ctx(seed, n_retain=n),
                         dataclasses.replace(cfg, alpha=0.0))
    assert max((p - q).abs().max().item()
               for p, q in zip(model.parameters(), plain.parameters())) > 1e-3
