"""reinit_finetune (Kookmin team): exactly the round(0.3·n) smallest-|g| weights of each
conv layer re-initialised, the others' gradients scaled by 0.1, the per-epoch linear
warm-up/decay."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

import unlearn.methods.reinit_finetune as rf
from method_helpers import make_ctx, one_thread  # noqa: F401
from test_importance import tiny_model
from unlearn.training.train import batch_indices
from unlearn.methods import method_config
from unlearn.training.model import build_model
from unlearn.training.train import batch


def test_warmup_decay_factors():
    assert [rf.warmup_decay_factor(e, 5) for e in range(1, 6)] == pytest.approx(
        [1 / 3, 2 / 3, 1, 2 / 3, 1 / 3])
    assert [rf.warmup_decay_factor(e, 2) for e in (1, 2)] == pytest.approx([1, 0.5])


def test_exactly_the_smallest_gradient_share_of_each_conv_is_reinitialised():
    ctx = make_ctx()
    model = tiny_model()
    before = {n: m.weight.detach().clone() for n, m in rf.conv_layers(model)}
    grads = rf.forget_retain_gradients(model, ctx, batch_size=4)
    masks = rf.smallest_gradient_masks(grads, 0.3)
    rf.reinit_masked(model, masks, torch.Generator().manual_seed(5))
    for name, m in rf.conv_layers(model):
        g, mask, w = grads[name].abs(), masks[name], m.weight.detach()
        assert int(mask.sum()) == round(0.3 * g.numel()), name            # per layer
        assert g[mask].max() <= g[~mask].min(), name                       # smallest |g|
        assert torch.equal(w[~mask], before[name][~mask]), name            # rest untouched
        assert bool((w[mask] != before[name][mask]).all()), name           # all replaced


def test_fresh_weights_are_kaiming_normal_fan_out():
    model = build_model(8)
    conv = model.layer4[0].conv2                                          # 512·512·3·3
    mask = {n: torch.ones_like(m.weight, dtype=torch.bool) for n, m in rf.conv_layers(model)}
    rf.reinit_masked(model, mask, torch.Generator().manual_seed(0))
    want = math.sqrt(2.0 / (512 * 9))                                     # gain √2 / √fan_out
    assert conv.weight.std().item() == pytest.approx(want, rel=0.01)


def test_first_step_scales_the_kept_conv_gradients():
    seed, n, lr = 0, 16, 0.5
    cfg = method_config("reinit_finetune", {"lr": lr, "momentum": 0.0, "weight_decay": 0.0,
                                            "epochs": 1, "batch_size": n, "grad_batch_size": 4})
    original = tiny_model()
    model = rf.reinit_finetune(copy.deepcopy(original), make_ctx(seed, n_retain=n), cfg)

    # reference: the same draws from a twin context, then one plain step with 0.1 / 1 scales
    ctx = make_ctx(seed, n_retain=n)
    ref = copy.deepcopy(original)
    masks = rf.smallest_gradient_masks(rf.forget_retain_gradients(ref, ctx, 4), 0.3)
    rf.reinit_masked(ref, masks, ctx.generator)
    ref.train()
    (index,) = batch_indices(n, n, ctx.generator)
    x, y = batch(ctx.retain, index, ctx.device)
    params = dict(ref.named_parameters())
    grads = dict(zip(params, torch.autograd.grad(F.cross_entropy(ref(x), y),
                                                 list(params.values()))))
    scale = {f"{c}.weight": torch.where(m, 1.0, 0.1) for c, m in masks.items()}
    for name, p in model.named_parameters():
        step = lr * grads[name] * scale.get(name, 1.0)                # warm-up factor 1 (E = 1)
        torch.testing.assert_close(p, params[name].detach() - step, rtol=1e-4, atol=1e-6,
                                   msg=name)
