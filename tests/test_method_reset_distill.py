"""reset_distill (Euclid team): conv1 and fc reset, everything else kept; a KL warm-up on
the distillation split against the original's logits; then CE + 2·KL on D_r."""
import copy

import pytest
import torch
import torch.nn.functional as F

import unlearn.methods.reset_distill as rd
from method_helpers import make_ctx, one_thread  # noqa: F401
from test_importance import tiny_model
from unlearn.data.splits import to_float
from unlearn.unlearning.distill import kl_loss
from unlearn.methods import method_config


def test_only_the_named_layers_are_reset_and_the_draw_is_seeded():
    original = tiny_model()
    model = copy.deepcopy(original)
    rd.reset_layers(model, ["conv1", "fc"], torch.Generator().manual_seed(0))
    for (name, p), p0 in zip(model.named_parameters(), original.parameters()):
        changed = not torch.equal(p, p0)
        assert changed == name.startswith(("conv1.", "fc.")), name
    twin = copy.deepcopy(original)
    rd.reset_layers(twin, ["conv1", "fc"], torch.Generator().manual_seed(0))
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), twin.parameters()))


@pytest.mark.parametrize("split_name", ["val", "retain"])
def test_warmup_distils_the_original_then_retain_adds_ce(monkeypatch, split_name):
    ctx = make_ctx(n_retain=16, n_val=8)
    original = tiny_model()
    original.eval()
    calls = []
    real = rd.loss_epoch

    def spy(model, split, opt, loss_fn, **kw):
        z = torch.randn(4, 4, generator=torch.Generator().manual_seed(len(calls)))
        index = torch.tensor([3, 0, 2, 1])
        calls.append((split, loss_fn(z, split.labels[index], index).item(), z, index))
        return real(model, split, opt, loss_fn, **kw)

    monkeypatch.setattr(rd, "loss_epoch", spy)
    cfg = method_config("reset_distill", {"warmup_epochs": 2, "epochs": 1, "batch_size": 8,
                                          "distill_split": split_name, "temperature": 5.0})
    rd.reset_distill(copy.deepcopy(original), ctx, cfg)
    warm_split = ctx.val if split_name == "val" else ctx.retain
    assert [c[0] is warm_split for c in calls[:2]] == [True, True]
    assert calls[2][0] is ctx.retain and len(calls) == 3
    for k, (split, got, z, index) in enumerate(calls):
        teacher = original(to_float(split.images[index])).detach()      # the original's logits
        kl = kl_loss(z, teacher, 5.0, reduction="batchmean").item()
        want = kl if k < 2 else F.cross_entropy(z, split.labels[index]).item() + 2 * kl
        assert got == pytest.approx(want, rel=1e-5)
