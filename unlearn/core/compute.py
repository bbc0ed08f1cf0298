"""How each model computes: threads, precision, memory format, determinism, compiling.

Every setting here can change the bytes a run produces, so the `compute` params section
is listed by every stage that trains or runs a model (the `executor` section, which only
says where runs go, is not). `auto` means: on for CUDA, off on the CPU, so the CPU
default stays plain fp32 and bit-for-bit deterministic while a GPU gets the fast path.

- threads: intra-op threads per run (CPU kernels split reductions by thread, so 1 and 2
  threads give different bytes; see unlearn/core/executor.py).
- precision: fp32 | bf16 | auto. bf16 is autocast around each forward pass of a prepared
  model (`prepare_model`), never around an optimiser step or a weight edit; weights,
  gradients, optimiser state, losses, saved logits and importances stay fp32
  (docs/compute.md). auto = bf16 on a GPU that has it, else fp32.
- channels_last: NHWC weights and activations, which cuDNN and oneDNN convolve faster.
- cudnn_benchmark: let cuDNN time its algorithms per shape (CUDA only; nondeterministic).
- deterministic: on CUDA, deterministic algorithms only, cuBLAS's fixed workspace, TF32
  off, cuDNN autotuning off, so a rerun on the same GPU and software gives the same bytes
  (CUDA only: the CPU path is deterministic at a fixed thread count anyway).
- compile: torch.compile the model (opt-in: minutes of compiling, needs a C++ compiler).
- fused_optimizer: Adam / SGD as one fused kernel (unlearn.training.train.make_optimizer).
- eval_batch_size: images per forward pass when computing logits; auto bounds the pass's
  memory by the image size (`eval_batch`). Logits do not depend on it (each image's
  forward pass in eval mode is its own).
"""
import contextlib
import os
from pathlib import Path

import torch

from unlearn.core.errors import UserError
from unlearn.core.sections import ComputeConfig

DEFAULTS = ComputeConfig.defaults()
DTYPES = {"fp32": None, "bf16": torch.bfloat16}
# cuBLAS is deterministic only with a fixed workspace; this setting must be in the
# environment before the process's first cuBLAS call (PyTorch's reproducibility notes).
CUBLAS_WORKSPACE = ":4096:8"

# What the loops inside a block read, set for it by `scope`. fused_optimizer: Adam / SGD
# as one kernel over all parameters instead of ~6 passes per tensor; the optimiser step was
# ~40 % of a 16-px ResNet-18 training step on the CPU (torch.profiler).
# eval_batch_size: every logits pass (unlearn.training.train.logits_of) reads it.
SCOPED = {"fused_optimizer": False, "eval_batch_size": "auto"}
# auto's bound on images × pixels per eval forward pass. ResNet-18's widest eval activation
# is conv1's output plus its BatchNorm's, 2 × 64 channels × (H/2)(W/2) floats per image:
# 2 MB at 128 px, so 2^21 pixels (128 images at 128 px) hold about 0.25 GB. Measured
# (issue 20: VmRSS sampled every 10–20 ms around logits_of over MUFAC-size 128 px images
# on the CPU): on a fresh process, passes of 1,024 images peaked 2.2 GB above the memory
# before them, of 256 images 0.6 GB, of 128 images 0.3 GB. After training steps (batch 64)
# the pass stacks on the allocator's retained training memory: a 256-image pass peaked
# 0.4 GB above the training steps' own peak, a 128-image pass 0.1 GB, which is why the
# bound is 128 and not 256 images at 128 px (a worker's peak stays its training steps').
# Passes of 128 were not slower than of 256 (2,048 images: 44 s against 58 s, one core).
EVAL_PIXELS = 2 ** 21
EVAL_BATCH_MAX = 1024


def check_compute(cfg, where="compute"):
    """The `compute` section parsed by its class (unlearn/core/sections.py) as a dict,
    defaults filled in (auto kept: `resolve` makes it concrete for a device)."""
    return ComputeConfig.parse(cfg, where).to_dict()


def gpu_capability(device):
    """(name, (major, minor)) of a CUDA device."""
    return torch.cuda.get_device_name(device), torch.cuda.get_device_capability(device)


def cpu_bf16_native():
    """Whether oneDNN runs bf16 natively here: the CPU has AVX512-BF16 or AMX and its ISA is
    not pinned below them (unlearn/core/__init__.py pins it to AVX2 by default)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    return (("avx512_bf16" in flags or "amx_bf16" in flags)
            and (isa in ("ALL", "DEFAULT") or "BF16" in isa or "AMX" in isa))


def bf16_supported(device):
    """Whether `device` runs bf16 at a usable speed: a CPU with native bf16 kernels
    (cpu_bf16_native), a CUDA GPU of compute capability 8.0 (Ampere) or newer. Emulated on
    an AVX2 CPU, a 16-px ResNet-18 training step took 23.5 s in bf16 against 0.40 s in fp32
    (one thread, measured on this project's 2-core dev machine)."""
    device = torch.device(device)
    if device.type == "cuda":
        return gpu_capability(device)[1][0] >= 8
    return cpu_bf16_native()


def resolve(cfg, device):
    """`auto` settings made concrete for `device` (a torch.device); a setting the device
    cannot honour is a UserError naming its key."""
    cfg = check_compute(cfg)
    device = torch.device(device)
    cuda = device.type == "cuda"
    out = dict(cfg)
    if out["precision"] == "auto":
        out["precision"] = "bf16" if cuda and bf16_supported(device) else "fp32"
    elif out["precision"] == "bf16" and not bf16_supported(device):
        if not cuda:
            raise UserError("compute.precision: bf16 on the CPU needs native bf16 kernels "
                            "(AVX512-BF16 or AMX, and ONEDNN_MAX_CPU_ISA=ALL in the "
                            "environment); emulated, a training step is ~60x slower than in "
                            "fp32 (docs/compute.md#cpu-kernels); use fp32 or auto")
        name, capability = gpu_capability(device)
        raise UserError(f"compute.precision: bf16 needs a GPU of compute capability 8.0 or "
                        f"newer; {device} ({name}) has {capability[0]}.{capability[1]}; "
                        "use fp32 or auto")
    if out["channels_last"] == "auto":
        out["channels_last"] = cuda
    if out["cudnn_benchmark"] == "auto":
        out["cudnn_benchmark"] = cuda and not out["deterministic"]
    return out


def apply_to_process(cfg, device=None):
    """Apply a resolved `compute` section's process-wide settings: torch's intra-op threads
    and, for a CUDA device, determinism, cuBLAS's workspace, cuDNN autotuning and TF32
    (call once per process that runs models, before its first CUDA call). CUDA state is
    touched only for a CUDA device, so a CPU run on a machine with GPUs creates no CUDA
    context. Not to be confused with unlearn.core.worker.set_threads_and_gpu, which each
    executor's worker runs before its tasks."""
    torch.set_num_threads(cfg["threads"])
    if device is None or torch.device(device).type != "cuda":
        return
    deterministic = cfg["deterministic"]
    if deterministic:   # read when the first cuBLAS handle is made, i.e. the first matmul
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = bool(cfg["cudnn_benchmark"])
    # TF32 rounds fp32 convolution and matmul inputs to 10 mantissa bits: fp32 then means
    # fp32 only with it off. PyTorch's defaults (convolutions on, matmul off) otherwise.
    torch.backends.cudnn.allow_tf32 = not deterministic
    torch.backends.cuda.matmul.allow_tf32 = False




def prepare_model(model, cfg):
    """The model in the configured memory format and precision, compiled if asked (its
    state_dict keys unchanged). Precision: the model's own forward runs under autocast
    (unlearn/training/resnet.py reads `autocast_dtype`) and returns fp32 outputs."""
    if cfg["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    model.autocast_dtype = DTYPES[cfg["precision"]]
    if cfg["compile"]:
        model.compile()  # in place: state_dict keys stay those of the plain model
    return model


@contextlib.contextmanager
def full_precision(*models):
    """Forward passes of `models` in fp32 inside the block (saved logits, importances,
    saliency and similarity selections), whatever precision they were prepared with."""
    saved = [m.__dict__.get("autocast_dtype") for m in models]
    for m in models:
        m.autocast_dtype = None
    try:
        yield
    finally:
        for m, dtype in zip(models, saved):
            m.autocast_dtype = dtype


@contextlib.contextmanager
def scope(cfg, device=None):
    """The optimiser options and the eval batch size for the models run inside the block."""
    saved = dict(SCOPED)
    SCOPED.update({key: cfg.get(key, DEFAULTS[key]) for key in SCOPED})
    try:
        yield
    finally:
        SCOPED.update(saved)


def eval_batch(images, size=None):
    """Images per eval forward pass over `images` ([N, C, H, W]): `size`, else the block's
    `eval_batch_size` (`scope`); auto = EVAL_BATCH_MAX, fewer for large images (EVAL_PIXELS)."""
    size = SCOPED["eval_batch_size"] if size is None else size
    if size == "auto":
        return max(1, min(EVAL_BATCH_MAX, EVAL_PIXELS // (images.shape[-2] * images.shape[-1])))
    return int(size)


def record(cfg, device):
    """What computed a model, for its outputs and the report: device (with the GPU's name),
    precision, memory format, determinism. A plain dict of strings and booleans."""
    device = torch.device(device)
    out = {"device": str(device), "precision": cfg["precision"],
           "memory_format": "channels_last" if cfg["channels_last"] else "contiguous",
           "threads": cfg["threads"], "torch": torch.__version__.split("+")[0]}
    if device.type == "cpu":   # which kernels ran: bytes differ between kernel families
        out["cpu_kernels"] = torch.backends.cpu.get_cpu_capability()
    if device.type == "cuda":
        out["device_name"] = torch.cuda.get_device_name(device)
        out["deterministic"] = cfg["deterministic"]
    return out
