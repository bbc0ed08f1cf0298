"""One unlearning run as a pure function of its inputs, and the job that maps it over seeds.

`run_unlearning` takes everything it needs as arguments (original weights, data,
method config, seed, device) and returns logits and timing, touching no file. That
is the unit an executor (unlearn/core/executor.py: local worker processes, or Ray tasks)
maps over seeds: `setup_unlearning` loads the shared inputs once per worker (the data and
every original model) and `unlearning_task` runs one seed from the original it names.
"""
import time
from dataclasses import dataclass, field

import torch

from unlearn.core import compute
from unlearn.core.executor import Job
from unlearn.data.splits import EVAL_SPLITS, load_prepared
from unlearn.methods import UnlearnContext, get_method
from unlearn.training.model import build_model, load_checkpoint, pick_device
from unlearn.training.train import logits_of



@dataclass
class RunResult:
    seed: int
    seconds: float            # wall-clock of the method call alone, no evaluation
    logits: dict              # split name → float32 [N, C] (CPU)
    model: torch.nn.Module
    eval_seconds: float = 0.0  # wall-clock of computing the logits
    stats: dict = field(default_factory=dict)  # the method's own per-run diagnostics
    compute: dict = field(default_factory=dict)  # device, precision, ... (compute.record)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_unlearning(method, cfg, original_state, splits, *, seed, device, num_classes,
                   arch="resnet18", train_recipe=None, compute_cfg=None):
    """Run `method` once from the original weights; return its logits on every split.

    `compute_cfg` (unlearn/core/compute.py: precision, memory format, ...) applies to the
    method's forward passes, its teachers' and fresh models' too; the logits are computed
    in fp32 whatever it says. None = plain fp32 on the CPU. `splits` may already be on
    `device` (setup_unlearning puts them there once per worker).
    """
    spec = get_method(method)
    fast = compute.resolve(compute_cfg or {}, device)
    torch.manual_seed(seed)  # anything drawing from the global RNG is pinned to the seed too
    model = build_model(num_classes, arch)
    model.load_state_dict(original_state)
    model = compute.prepare_model(model.to(device), fast)
    ctx = UnlearnContext(retain=splits["retain"], forget=splits["forget"], val=splits["val"],
                         device=device, seed=seed, num_classes=num_classes, arch=arch,
                         train_recipe=train_recipe or {}, compute=fast)
    _sync(device)
    start = time.perf_counter()
    with compute.scope(fast, device):
        model = spec.fn(model, ctx, cfg)
    _sync(device)
    seconds = time.perf_counter() - start
    logits = {name: logits_of(model, splits[name].images, device, fast["eval_batch_size"])
              for name in EVAL_SPLITS}
    eval_seconds = time.perf_counter() - start - seconds
    return RunResult(seed=seed, seconds=seconds, logits=logits, model=model,
                     eval_seconds=eval_seconds, stats=dict(getattr(ctx, "stats", None) or {}),
                     compute=compute.record(fast, device))


@dataclass
class UnlearnTask:
    method: str
    cfg: dict
    seed: int
    keep_model: bool = False   # return the weights too (for a kept checkpoint)
    original: int | None = None  # training seed of the original it starts from (None: the only one)


def _checkpoint(c):
    return c if isinstance(c, dict) else load_checkpoint(c)[1]


def setup_unlearning(prepared, originals, device="auto", train_recipe=None, compute_cfg=None):
    """What every run shares, loaded once per worker: data (moved to the device once),
    the original models' weights, device.

    `prepared` is the prepared folder; `originals` maps each original's training seed to its
    checkpoint file, or is one checkpoint file for every run; either may be what
    `inline_unlearning_inputs` read from them (for workers on other machines).
    """
    device = pick_device(device)
    compute.apply_to_process(compute.resolve(compute_cfg or {}, device), device)
    if isinstance(originals, dict) and "state_dict" not in originals:
        ckpts = {seed: _checkpoint(c) for seed, c in originals.items()}
    else:
        ckpts = {None: _checkpoint(originals)}
    splits = prepared if isinstance(prepared, dict) else load_prepared(prepared)
    splits = {name: split.to(device) for name, split in splits.items()}
    return {"splits": splits, "ckpts": ckpts, "device": device,
            "train_recipe": train_recipe or {}, "compute": compute_cfg}


def inline_unlearning_inputs(prepared_dir, originals, *rest):
    """setup_unlearning's arguments with the files read in (Job.inline)."""
    read = ({seed: _checkpoint(path) for seed, path in originals.items()}
            if isinstance(originals, dict) else _checkpoint(originals))
    return (load_prepared(prepared_dir), read, *rest)


def unlearning_job(prepared, originals, device="auto", train_recipe=None, compute_cfg=None,
                   labels=()):
    """The executor's Job for unlearning runs (unlearn/core/executor.py): every worker runs
    `setup_unlearning` with these arguments, then `unlearning_task` per task."""
    return Job(setup=setup_unlearning, run=unlearning_task, labels=list(labels),
               setup_args=(prepared, originals, device, train_recipe, compute_cfg),
               inline=inline_unlearning_inputs)


def unlearning_task(state, task):
    """One seed of one method; returns plain data (no module) so it crosses processes."""
    ckpts = state["ckpts"]
    ckpt = ckpts[None] if None in ckpts else ckpts[task.original]
    result = run_unlearning(task.method, task.cfg, ckpt["state_dict"], state["splits"],
                            seed=task.seed, device=state["device"],
                            num_classes=ckpt["num_classes"], arch=ckpt["arch"],
                            train_recipe=state["train_recipe"], compute_cfg=state["compute"])
    weights = ({k: v.detach().cpu() for k, v in result.model.state_dict().items()}
               if task.keep_model else None)
    return {"seed": task.seed, "seconds": result.seconds, "eval_seconds": result.eval_seconds,
            "logits": result.logits, "stats": result.stats, "state_dict": weights,
            "compute": result.compute}
