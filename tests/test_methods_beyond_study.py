"""The methods beyond the study through the runner on a ResNet-18: finite
logits, weights moved, and the same seed giving the same bytes (CPU)."""
import pytest
import torch

from method_helpers import one_thread, rand_split  # noqa: F401
from unlearn.methods import method_config
from unlearn.training.model import build_model
from unlearn.runner import run_unlearning

CPU = torch.device("cpu")
SMALL = {   # one short epoch each on a 16-image retain set; the rest default
    "random_label": {"batch_size": 8, "epochs": 1},
    "salun": {"batch_size": 8, "epochs": 1},
    "l1_sparse": {"batch_size": 8, "epochs": 1},
    "reinit_finetune": {"batch_size": 8, "grad_batch_size": 8, "epochs": 1},
    "noise_finetune": {"batch_size": 8, "epochs": 1},
    "prune_reinit": {"batch_size": 8, "epochs": 1.0},
    "reset_distill": {"batch_size": 8, "warmup_epochs": 1, "epochs": 1},
}


@pytest.fixture(scope="module")
def world():
    g = torch.Generator().manual_seed(0)
    splits = {name: rand_split(n, g, px=16, classes=8)
              for name, n in (("retain", 16), ("forget", 6), ("val", 8), ("test", 4))}
    torch.manual_seed(0)
    return splits, build_model(8).state_dict()


@pytest.mark.parametrize("method", sorted(SMALL))
def test_runs_finite_moves_weights_and_is_deterministic(world, method):
    splits, state = world
    cfg = method_config(method, SMALL[method])
    runs = [run_unlearning(method, cfg, state, splits, seed=3, device=CPU, num_classes=8)
            for _ in range(2)]
    for name, logits in runs[0].logits.items():
        assert torch.isfinite(logits).all(), name
        assert torch.equal(logits, runs[1].logits[name]), name          # same seed, same bytes
    after = runs[0].model.state_dict()
    assert any(not torch.equal(after[k], v) for k, v in state.items() if k.endswith("weight"))
