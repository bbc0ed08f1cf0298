"""salun (Fan et al. 2024): a global top-share saliency mask of |∇(−CE on D_f)|, and the
weights outside it bit-identical after the run with their momentum zeroed."""
import copy

import torch
import torch.nn.functional as F

import unlearn.methods.salun as salun_mod
from method_helpers import make_ctx, one_thread  # noqa: F401
from test_importance import tiny_model
from unlearn.data.splits import to_float
from unlearn.methods import method_config


def test_mask_keeps_the_global_top_share_of_forget_gradient():
    ctx = make_ctx(n_forget=10)
    model = tiny_model()
    mask = salun_mod.saliency_mask(model, ctx.forget, ctx.device, batch_size=4,
                                   keep_fraction=0.5)
    # reference: Σ over batches of 4 (in order) of ∇(−mean CE), eval mode
    model.eval()
    total = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for start in range(0, 10, 4):
        x = to_float(ctx.forget.images[start:start + 4])
        loss = -F.cross_entropy(model(x), ctx.forget.labels[start:start + 4])
        for (n, _), g in zip(model.named_parameters(),
                             torch.autograd.grad(loss, list(model.parameters()))):
            total[n] += g
    flat_g = torch.cat([t.abs().flatten() for t in total.values()])
    flat_m = torch.cat([mask[n].flatten() for n in total])
    assert int(flat_m.sum()) == int(0.5 * flat_g.numel())            # exactly ⌊N/2⌋ kept
    assert flat_g[flat_m].min() >= flat_g[~flat_m].max()              # the largest |g|
    shares = [mask[n].float().mean().item() for n in total]
    assert min(shares) < 0.4 and max(shares) > 0.6                    # one global threshold


class RecordingSGD(torch.optim.SGD):
    made = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        RecordingSGD.made.append(self)


def test_weights_outside_the_mask_are_bit_identical_and_their_momentum_zero(monkeypatch):
    ctx = make_ctx(n_retain=24, n_forget=8)
    original = tiny_model()
    cfg = method_config("salun", {"epochs": 2, "batch_size": 8, "lr": 0.05,
                                  "weight_decay": 0.01, "momentum": 0.9})
    mask = salun_mod.saliency_mask(copy.deepcopy(original), ctx.forget, ctx.device, 8, 0.5)
    RecordingSGD.made = []
    monkeypatch.setattr(salun_mod.torch.optim, "SGD", RecordingSGD)
    model = salun_mod.salun(copy.deepcopy(original), ctx, cfg)
    (opt,) = RecordingSGD.made
    moved = 0
    for (name, p), p0 in zip(model.named_parameters(), original.parameters()):
        m = mask[name]
        assert torch.equal(p[~m], p0[~m]), name                 # frozen, despite wd and momentum
        assert bool((opt.state[p]["momentum_buffer"][~m] == 0).all()), name
        moved += int((p[m] != p0[m]).sum())
    assert moved > 0                                            # the mask's weights did learn
