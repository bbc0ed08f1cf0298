"""How each model computes: threads, precision, memory format, cuDNN autotuning, compiling.

Every setting here can change the bytes a run produces, so the `compute` params section
is listed by every stage that trains or runs a model (the `executor` section, which only
says where runs go, is not). `auto` means: on for CUDA, off on the CPU, so the CPU
default stays plain fp32 and bit-for-bit deterministic while a GPU gets the fast path.

- threads: intra-op threads per run (CPU kernels split reductions by thread, so 1 and 2
  threads give different bytes; see unlearn/core/executor.py).
- precision: fp32 | bf16 | auto. bf16 is autocast (weights and optimiser stay fp32):
  Tensor Cores on CUDA, AMX / AVX-512-BF16 on recent x86 CPUs (bench/train.py measures).
- channels_last: NHWC weights and activations, which cuDNN and oneDNN convolve faster.
- cudnn_benchmark: let cuDNN time its algorithms per shape (CUDA only; nondeterministic).
- compile: torch.compile the model (opt-in: minutes of compiling, needs a C++ compiler).
- fused_optimizer: Adam / SGD as one fused kernel (unlearn.training.train.make_optimizer).
- eval_batch_size: images per forward pass when collecting logits.
"""
import contextlib

import torch

from unlearn.core.errors import UserError

DEFAULTS = {"threads": 1, "precision": "auto", "channels_last": "auto",
            "cudnn_benchmark": "auto", "compile": False, "fused_optimizer": True,
            "eval_batch_size": 1024}
PRECISIONS = ("fp32", "bf16", "auto")

# Options every optimiser made by unlearn.training.train gets; set for a block by `scope`.
# fused: one kernel over all parameters instead of ~6 passes per tensor; the optimiser
# step was ~40 % of a 16-px ResNet-18 training step on the CPU (torch.profiler).
OPTIMIZER_OPTIONS = {"fused": False}


def check_compute(cfg, where="compute"):
    """Validate the `compute` section; return it with defaults filled in (auto kept)."""
    cfg = {**DEFAULTS, **(cfg or {})}
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise UserError(f"{where}.{sorted(unknown)[0]}: unknown key; known: {', '.join(DEFAULTS)}")
    for key in ("threads", "eval_batch_size"):
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UserError(f"{where}.{key}: must be an integer ≥ 1, got {v!r}")
    if cfg["precision"] not in PRECISIONS:
        raise UserError(f"{where}.precision: {cfg['precision']!r} unknown; choose from "
                        f"{', '.join(PRECISIONS)}")
    for key in ("channels_last", "cudnn_benchmark"):
        if cfg[key] not in (True, False, "auto"):
            raise UserError(f"{where}.{key}: must be true, false or auto, got {cfg[key]!r}")
    for key in ("compile", "fused_optimizer"):
        if not isinstance(cfg[key], bool):
            raise UserError(f"{where}.{key}: must be true or false, got {cfg[key]!r}")
    return cfg


def resolve(cfg, device):
    """`auto` settings made concrete for `device` (a torch.device)."""
    cfg = check_compute(cfg)
    cuda = torch.device(device).type == "cuda"
    out = dict(cfg)
    if out["precision"] == "auto":
        out["precision"] = "bf16" if cuda else "fp32"
    for key in ("channels_last", "cudnn_benchmark"):
        if out[key] == "auto":
            out[key] = cuda
    return out


def configure_process(cfg):
    """Process-wide settings (call once per process that runs models)."""
    torch.set_num_threads(cfg["threads"])
    torch.backends.cudnn.benchmark = bool(cfg["cudnn_benchmark"])


def prepare_model(model, cfg):
    """The model in the configured memory format, compiled if asked (keys unchanged)."""
    if cfg["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    if cfg["compile"]:
        model.compile()  # in place: state_dict keys stay those of the plain model
    return model


@contextlib.contextmanager
def scope(cfg, device):
    """Precision and optimiser options for the models trained and run inside the block."""
    saved = dict(OPTIMIZER_OPTIONS)
    OPTIMIZER_OPTIONS["fused"] = cfg["fused_optimizer"]
    try:
        with autocast(cfg, device):
            yield
    finally:
        OPTIMIZER_OPTIONS.update(saved)


def autocast(cfg, device):
    """The precision context for forward passes (a no-op for fp32)."""
    if cfg["precision"] != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
