"""Which GPU each run gets and how many runs go at once: pure functions of device counts.

Nothing here touches CUDA or Ray, so every rule is tested with made-up machines
(tests/test_placement.py). unlearn/core/executor.py and executor_ray.py ask the real
counts and apply these rules.

- `device` (params): `cpu`; `auto` (every GPU when there are any, else the CPU); `cuda`
  (every GPU); `cuda:k` (GPU k only: an explicit index pins every run to it).
- Local workers on GPUs: worker w runs on the w-th GPU in use, round robin. `workers:
  auto` is `workers_per_gpu` × GPUs in use (capped by cores ÷ threads); an explicit count
  that would put more than `workers_per_gpu` workers on one GPU is refused.
- Ray: each run is a slot (a Ray actor) holding `num_cpus` CPUs and `num_gpus` GPUs for
  its life; `num_gpus: auto` is 1 ÷ workers_per_gpu where GPUs are used, else 0.
"""
import math

from unlearn.core.errors import UserError

# Concurrent runs per GPU that `auto` means. Measured with bench/workers.py (finetune,
# 2,000 images of 128 px, bf16) on one H200: docs/speed.md, bench/results/gpu.md.
AUTO_WORKERS_PER_GPU = 4


def gpus_in_use(device, visible):
    """Indices of the GPUs the runs of `device` use on a machine with `visible` GPUs."""
    name = str(device)
    if name == "cpu":
        return []
    if name == "auto":
        return list(range(visible))
    if name == "cuda" or name.startswith("cuda:"):
        if visible == 0:
            raise UserError(f"device: {name!r} asked for, but no CUDA device is available")
        if name == "cuda":
            return list(range(visible))
        index = name.split(":", 1)[1]
        if not index.isdigit() or int(index) >= visible:
            raise UserError(f"device: {name!r} asked for, but this machine has {visible} "
                            f"GPU(s) (cuda:0..cuda:{visible - 1})")
        return [int(index)]
    raise UserError(f"device: {name!r} unknown; use auto, cpu, cuda or cuda:<index>")


def worker_gpu(worker_index, gpus):
    """The GPU of local worker `worker_index` (round robin), or None for CPU runs."""
    return gpus[worker_index % len(gpus)] if gpus else None


def per_gpu_limit(value):
    """The runs per GPU a checked `executor.workers_per_gpu` means (unlearn/core/sections.py)."""
    return AUTO_WORKERS_PER_GPU if value == "auto" else value


def local_workers(workers, *, cores, per_worker, gpus, per_gpu, where="executor",
                  what="thread(s) (compute.threads)"):
    """How many runs go at once on this machine: `workers` (an integer ≥ 1 or 'auto', as the
    executor section's class checks it) checked against the cores (each run takes
    `per_worker` of them) and the GPUs in use."""
    if workers == "auto":
        workers = max(1, int(cores // per_worker))
        if gpus:
            workers = max(1, min(workers, per_gpu * len(gpus)))
    if workers * per_worker > cores:
        raise UserError(f"{where}.workers: {workers} workers × {per_worker:g} {what} "
                        f"need {workers * per_worker:g} cores; this machine has {cores}")
    if gpus and math.ceil(workers / len(gpus)) > per_gpu:
        raise UserError(f"{where}.workers: {workers} workers on {len(gpus)} GPU(s) put "
                        f"{math.ceil(workers / len(gpus))} on one GPU, more than "
                        f"{where}.workers_per_gpu = {per_gpu}")
    return workers


def ray_num_gpus(num_gpus, *, device, gpus, per_gpu, where="executor"):
    """GPUs per Ray run. `gpus`: how many GPUs the runs could use (this machine's for a
    local instance, the cluster's largest node's for a cluster). GPUs that are there and
    not given to the runs would leave them on the CPU: refused unless device is cpu."""
    if num_gpus == "auto":
        return 1 / per_gpu if gpus and str(device) != "cpu" else 0
    if str(device) == "cpu" and num_gpus > 0:
        raise UserError(f"{where}.num_gpus: {num_gpus:g} reserves GPUs for runs on device: cpu; "
                        "set it to 0 or auto, or choose a GPU device")
    if num_gpus == 0 and gpus and str(device) != "cpu":
        raise UserError(f"{where}.num_gpus: 0 hides the {gpus} GPU(s) there from the Ray runs, "
                        f"which would then run on the CPU; use auto (1/{per_gpu} GPU a run) "
                        "or set device: cpu to run on the CPU on purpose")
    if num_gpus > 1 and not float(num_gpus).is_integer():
        raise UserError(f"{where}.num_gpus: a run takes a fraction of one GPU or whole GPUs, "
                        f"got {num_gpus:g}")
    return num_gpus


def ray_slots(nodes, num_cpus, num_gpus, tasks):
    """How many runs at once a Ray cluster holds: per node, as many as its CPUs and GPUs
    allow; `nodes` are Ray's resource dicts ({"CPU": 16, "GPU": 1, ...})."""
    total = 0
    for node in nodes:
        fit = math.floor(node.get("CPU", 0) / num_cpus + 1e-9)
        if num_gpus:
            fit = min(fit, math.floor(node.get("GPU", 0) / num_gpus + 1e-9))
        total += fit
    return max(1, min(total, tasks))
