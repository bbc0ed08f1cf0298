"""finetune: cross-entropy on D_r; `cosine: true` steps CosineAnnealingLR(T_max = epochs)
once per epoch, as the competition's starting kit does."""
import math

import pytest

import unlearn.methods.finetune as ft
from method_helpers import make_ctx, one_thread  # noqa: F401
from test_importance import tiny_model
from unlearn.methods import method_config


@pytest.mark.parametrize("cosine, epochs", [(True, 4), (True, 1), (False, 3)])
def test_learning_rate_is_constant_within_an_epoch_and_cosine_across(monkeypatch, cosine,
                                                                     epochs):
    lrs = []
    real = ft.train_epoch

    def spy(model, split, optimizer, **kw):
        before = optimizer.param_groups[0]["lr"]
        out = real(model, split, optimizer, **kw)
        assert optimizer.param_groups[0]["lr"] == before        # no per-batch stepping
        lrs.append(before)
        return out

    monkeypatch.setattr(ft, "train_epoch", spy)
    cfg = method_config("finetune", {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9,
                                     "epochs": epochs, "cosine": cosine, "batch_size": 8})
    ft.finetune(tiny_model(), make_ctx(n_retain=32), cfg)
    want = [0.1 * (1 + math.cos(math.pi * e / epochs)) / 2 if cosine else 0.1
            for e in range(epochs)]
    assert lrs == pytest.approx(want)
