"""noise_finetune (S. Achour): N(0, 0.6²) on the conv weights (conv1 alone on ResNet-18,
as his code does), N(0, 0.005²) again before the last epoch, cosine lr per epoch,
inverse-frequency class weights."""
import pytest
import torch

import unlearn.methods.noise_finetune as nf
from method_helpers import make_ctx, one_thread  # noqa: F401
from unlearn.methods import method_config
from unlearn.training.model import build_model


def test_scope_top_level_is_conv1_on_resnet18():
    model = build_model(8)
    assert nf.noised_convs(model, "top_level") == [model.conv1]
    assert len(nf.noised_convs(model, "all_conv")) == 20


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_noise_has_the_given_std_and_comes_again_before_the_last_epoch(monkeypatch):
    model = build_model(8)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    snapshots, lrs = [], []

    def no_training(model_, split, opt, loss_fn, **kw):       # only the noise moves weights
        # (no optimiser step is taken, hence the scheduler-order warning filtered above)
        snapshots.append(model_.conv1.weight.detach().clone())
        lrs.append(opt.param_groups[0]["lr"])
        return 0

    monkeypatch.setattr(nf, "loss_epoch", no_training)
    cfg = method_config("noise_finetune", {"epochs": 3, "lr": 0.1})
    nf.noise_finetune(model, make_ctx(px=16, classes=8), cfg)
    first = snapshots[0] - start["conv1.weight"]
    assert first.std().item() == pytest.approx(0.6, rel=0.03)        # 9,408 draws
    assert abs(first.mean().item()) < 0.02
    assert torch.equal(snapshots[1], snapshots[0])                   # nothing after epoch 1
    second = snapshots[2] - snapshots[1]                             # after epoch 2 of 3
    assert second.std().item() == pytest.approx(0.005, rel=0.03)
    final = model.conv1.weight.detach()
    assert torch.equal(final, snapshots[2])
    for name, p in model.named_parameters():                         # scope: conv1 only
        if name != "conv1.weight":
            assert torch.equal(p, start[name]), name
    assert lrs == pytest.approx([0.1, 0.075, 0.025])                 # cosine, T_max = 3


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_loss_weights_classes_by_inverse_frequency(monkeypatch):
    ctx = make_ctx(n_retain=12, px=16, classes=8)
    ctx.retain.labels[:] = torch.tensor([0] * 8 + [1] * 4)
    got = {}

    def capture(model, split, opt, loss_fn, **kw):
        logits = torch.randn(12, 8, generator=torch.Generator().manual_seed(0))
        y = ctx.retain.labels
        got["loss"] = loss_fn(logits, y, torch.arange(12)).item()
        per = torch.nn.functional.cross_entropy(logits, y, reduction="none")
        w = torch.where(y == 0, 1 / 8, 1 / 4)
        got["want"] = ((w * per).sum() / w.sum()).item()
        return 0

    monkeypatch.setattr(nf, "loss_epoch", capture)
    nf.noise_finetune(build_model(8), ctx, method_config("noise_finetune", {"epochs": 1}))
    assert got["loss"] == pytest.approx(got["want"], rel=1e-5)
