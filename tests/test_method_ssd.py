"""ssd (Foster et al. 2024): selected elements are scaled by exactly min(λ·I_ref/I_f, 1),
the rest stay bit-identical, nothing grows, BatchNorm buffers untouched; runner smoke run."""
import copy

import pytest
import torch

import unlearn.methods.ssd as ssd_mod
from test_importance import CPU, rand_split, single_thread, tiny_model  # noqa: F401
from unlearn.data.splits import Split
from unlearn.core.errors import UserError
from unlearn.unlearning.importance import importances
from unlearn.methods import UnlearnContext, method_config
from unlearn.training.model import build_model
from unlearn.runner import run_unlearning


def make_ctx(seed=0, n_retain=30, n_forget=6, data_seed=None):
    g = torch.Generator().manual_seed(seed if data_seed is None else data_seed)
    return UnlearnContext(retain=rand_split(n_retain, g), forget=rand_split(n_forget, g),
                          val=rand_split(4, g), device=CPU, seed=seed, num_classes=4)


def run_ssd(model, ctx, **section):
    return ssd_mod.ssd(model, ctx, method_config("ssd", section))


@pytest.mark.parametrize("alpha,lam", [(1.0, 2.0), (10.0, 0.1)])
def test_selected_elements_scaled_exactly_rest_bit_identical(alpha, lam):
    ctx = make_ctx()
    original = tiny_model()
    i_f = importances(original, ctx.forget, CPU)
    i_ref = importances(original, ctx.retain, CPU)
    model = run_ssd(copy.deepcopy(original), ctx, alpha=alpha, lam=lam)
    n_selected = n_scaled = n_clamped = 0
    for name, p in model.named_parameters():
        p0 = dict(original.named_parameters())[name].detach()
        sel = i_f[name] > alpha * i_ref[name]
        assert torch.equal(p[~sel], p0[~sel]), name                       # bit-identical
        factor = torch.clamp(lam * i_ref[name][sel] / i_f[name][sel], max=1.0)
        assert torch.equal(p[sel], p0[sel] * factor), name                  # exact rule
        assert bool((p.abs() <= p0.abs()).all()), name                       # never grows
        n_selected += int(sel.sum())
        n_scaled += int((factor < 1).sum())
        n_clamped += int((factor == 1).sum())
    assert n_selected > 0 and n_scaled > 0          # the test exercises the rule
    if lam > alpha:
        assert n_clamped > 0                        # and the min(·, 1) branch
    for k, v in original.named_buffers():
        assert torch.equal(v, dict(model.named_buffers())[k]), k


def test_dampen_rule_on_hand_made_importances():
    model = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[2.0, -4.0, 8.0]]))
    i_f = {"weight": torch.tensor([[1.0, 30.0, 0.0]])}
    i_ref = {"weight": torch.tensor([[1.0, 2.0, 0.0]])}
    shares = ssd_mod.dampen(model, i_f, i_ref, alpha=10.0, lam=1.0)
    # 1 ≤ 10·1: kept;  30 > 10·2: scaled by 2/30;  0 > 0 false: kept (no 0/0)
    assert torch.equal(model.weight, torch.tensor([[2.0, -4.0 * (1.0 * 2.0 / 30.0), 8.0]]))
    assert shares == pytest.approx({"selected_share": 1 / 3, "dampened_share": 1 / 3,
                                    "mean_dampening_factor": 2 / 30})
    # selected but clamped at 1 (λ·I_ref/I_f ≥ 1): selected, not dampened
    shares = ssd_mod.dampen(torch.nn.Linear(2, 1, bias=False),
                            {"weight": torch.tensor([[30.0, 30.0]])},
                            {"weight": torch.tensor([[2.0, 1.0]])}, alpha=10.0, lam=20.0)
    assert shares == pytest.approx({"selected_share": 1.0, "dampened_share": 0.5,
                                    "mean_dampening_factor": 20 / 30})
    i_ref = {"weight": torch.tensor([[1.0, 0.0, 0.0]])}
    ssd_mod.dampen(model, {"weight": torch.tensor([[0.0, 5.0, 0.0]])}, i_ref, 10.0, 1.0)
    assert model.weight[0, 1].item() == 0.0        # I_ref = 0 < I_f: weight zeroed, no NaN


def test_train_reference_is_retain_union_forget():
    ctx = make_ctx(seed=1)
    original = tiny_model(dtype=torch.float64)
    i_f = importances(original, ctx.forget, CPU)
    i_train = importances(original, Split.concat([ctx.retain, ctx.forget]), CPU)
    model = run_ssd(copy.deepcopy(original), ctx, alpha=1.0, lam=1.0, reference="train")
    for name, p in model.named_parameters():
        p0 = dict(original.named_parameters())[name].detach()
        sel = i_f[name] > i_train[name]
        want = torch.where(sel, p0 * torch.clamp(i_train[name] / i_f[name], max=1.0), p0)
        torch.testing.assert_close(p.detach(), want, rtol=1e-9, atol=1e-12)


def test_batch_importance_form_depends_on_seed():
    def run(seed, form):
        ctx = make_ctx(seed=seed, n_retain=40, data_seed=0)
        model = run_ssd(tiny_model(), ctx, alpha=1.0, importance=form, batch_size=8)
        return list(model.parameters())

    def same(a, b):
        return all(torch.equal(x, y) for x, y in zip(a, b))

    assert same(run(0, "batch"), run(0, "batch"))
    assert not same(run(0, "batch"), run(1, "batch"))             # shuffle changes the result
    assert same(run(0, "per_example"), run(1, "per_example"))     # per-example: seed-free
    with pytest.raises(UserError, match="reference"):
        run_ssd(tiny_model(), make_ctx(), reference="test")


def test_runner_smoke_resnet18():
    g = torch.Generator().manual_seed(0)
    splits = {name: rand_split(n, g, px=16, classes=8)
              for name, n in (("retain", 24), ("forget", 6), ("val", 4), ("test", 4))}
    torch.manual_seed(0)
    state = build_model(8).state_dict()
    result = run_unlearning("ssd", method_config("ssd", {"alpha": 1.0}), state, splits,
                            seed=0, device=CPU, num_classes=8)
    assert result.logits["forget"].shape == (6, 8)
    assert all(torch.isfinite(v).all() for v in result.logits.values())
    after = result.model.state_dict()
    changed = sum(int((after[k] != v).sum()) for k, v in state.items())
    assert changed > 0


def test_run_records_what_it_dampened():
    """ctx.stats: the share of parameter elements scaled down and their mean factor,
    equal to a recount on the weights; a rule that selects nothing reports 0 and 1.0."""
    ctx = make_ctx()
    original = tiny_model()
    model = run_ssd(copy.deepcopy(original), ctx, alpha=1.0, lam=0.5)
    after = torch.cat([p.detach().flatten() for p in model.parameters()]).double()
    before = torch.cat([p.detach().flatten() for p in original.parameters()]).double()
    changed = after != before                # a zero weight stays 0: never counted as changed
    assert before[changed].abs().min() > 0
    assert ctx.stats["dampened_share"] == pytest.approx(changed.double().mean().item())
    assert ctx.stats["mean_dampening_factor"] == pytest.approx(
        (after[changed] / before[changed]).mean().item(), rel=1e-4)
    assert 0 < ctx.stats["dampened_share"] < 1

    ctx = make_ctx()
    ctx.forget = ctx.retain                  # I_f = I_ref: nothing exceeds α·I_ref at α = 1
    model = run_ssd(copy.deepcopy(original), ctx, alpha=1.0)
    assert ctx.stats == {"dampened_share": 0.0, "mean_dampening_factor": 1.0}
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), original.parameters()))
