"""One unlearning run as a pure function of its inputs.

`run_unlearning` takes everything it needs as arguments (original weights, data,
method config, seed, device) and returns logits and timing, touching no file. That
is the unit a distributed engine (Ray, Dask, a Slurm array) can map over seeds.
"""
import time
from dataclasses import dataclass

import torch

from .methods import UnlearnContext, get_method
from .model import build_model
from .train import logits_of

EVAL_SPLITS = ("forget", "retain", "test", "val")


@dataclass
class RunResult:
    seed: int
    seconds: float            # wall-clock of the method call alone, no evaluation
    logits: dict              # split name → float32 [N, C] (CPU)
    model: torch.nn.Module


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_unlearning(method, cfg, original_state, splits, *, seed, device, num_classes,
                   arch="resnet18", train_recipe=None):
    """Run `method` once from the original weights; return its logits on every split."""
    spec = get_method(method)
    torch.manual_seed(seed)  # anything drawing from the global RNG is pinned to the seed too
    model = build_model(num_classes, arch)
    model.load_state_dict(original_state)
    model.to(device)
    ctx = UnlearnContext(retain=splits["retain"], forget=splits["forget"], val=splits["val"],
                         device=device, seed=seed, num_classes=num_classes, arch=arch,
                         train_recipe=train_recipe or {})
    _sync(device)
    start = time.perf_counter()
    model = spec.fn(model, ctx, cfg)
    _sync(device)
    seconds = time.perf_counter() - start
    logits = {name: logits_of(model, splits[name].images, device) for name in EVAL_SPLITS}
    return RunResult(seed=seed, seconds=seconds, logits=logits, model=model)
