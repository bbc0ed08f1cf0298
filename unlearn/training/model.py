"""The classifier: ResNet-18 from scratch (never downloaded weights).

unlearn/training/resnet.py is torchvision's ResNet-18 written out (same names, same initial
weights for a seed), so stages do not pay for importing torchvision.
"""
import functools

import torch

from unlearn.core.errors import UserError
from unlearn.core.sections import ARCHITECTURES   # train.arch's values
from unlearn.training.resnet import resnet18


def build_model(num_classes, arch="resnet18"):
    if arch not in ARCHITECTURES:
        raise UserError(f"model arch {arch!r} unknown; choose from {ARCHITECTURES}")
    return resnet18(num_classes=num_classes)


def pick_device(name="auto"):
    """`auto` → CUDA when present, else CPU; anything else is passed to torch.device.

    A CUDA device comes back with its index: plain `cuda` (or `auto`) is the process's
    current GPU, which a worker sets to its own (unlearn/core/executor.py), so records
    and messages name the GPU that ran.
    """
    from unlearn.core.executor import visible_gpus
    from unlearn.core.placement import gpus_in_use
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if str(name).startswith("cuda"):   # the placement rules name what is wrong with it
        gpus_in_use(name, visible_gpus())
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise UserError(f"device: {name!r} is not a device ({e})") from None
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def save_checkpoint(model, path, *, arch, num_classes, extra=None):
    save_state(model.state_dict(), path, arch=arch, num_classes=num_classes, extra=extra)


def save_state(state_dict, path, *, arch, num_classes, extra=None):
    """A checkpoint from bare weights (e.g. returned by a worker process)."""
    from unlearn.core.atomic import torch_save
    state = {k: v.detach().cpu() for k, v in state_dict.items()}
    torch_save({"arch": arch, "num_classes": num_classes, "state_dict": state,
                **(extra or {})}, path)


def load_checkpoint(path, *, arch=None, num_classes=None):
    """Load a checkpoint written by save_checkpoint; check it fits the expected model.

    weights_only=True: a checkpoint pulled from a remote is data, never code. mmap=True:
    the weights stay pages of the file, which the processes that load one checkpoint (a
    stage and its workers) share instead of each holding a private copy (45 MB for
    ResNet-18); they are mapped copy-on-write, so nothing written to them reaches the file.
    A file torch cannot map (saved in its legacy format) is read whole.
    """
    try:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:   # not mappable (an old format, a damaged file): read it whole,
            ckpt = torch.load(path, map_location="cpu", weights_only=True)   # or say why not
    except FileNotFoundError:
        raise UserError(f"{path}: checkpoint not found") from None
    except Exception as e:  # corrupt zip, truncated file, pickle refused ...
        raise UserError(f"{path}: corrupt or unreadable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise UserError(f"{path}: not a checkpoint of this project (no state_dict)")
    if ckpt.get("arch") not in ARCHITECTURES:
        raise UserError(f"{path}: architecture {ckpt.get('arch')!r} unknown, expected one of "
                        f"{ARCHITECTURES}")
    if arch is not None and ckpt.get("arch") != arch:
        raise UserError(f"{path}: architecture {ckpt.get('arch')!r}, expected {arch!r}")
    if num_classes is not None and ckpt.get("num_classes") != num_classes:
        raise UserError(f"{path}: {ckpt.get('num_classes')} classes, expected {num_classes}")
    model = build_model(ckpt["num_classes"], ckpt["arch"])
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise UserError(f"{path}: weights do not fit {ckpt['arch']} ({first})") from None
    return model, ckpt


@functools.lru_cache(maxsize=None)
def _module_names(arch, kinds):
    """Names of the modules of the given types in `arch` (built once, never trained)."""
    return tuple(name for name, m in build_model(8, arch).named_modules()
                 if name and (not kinds or isinstance(m, kinds)))


def module_names(*kinds, arch="resnet18", min_len=1):
    """A list of distinct module names of `arch` (e.g. ["conv1", "fc"]), each of one of
    the given layer types (any module when none is given)."""
    def check(value):
        if len(value) < min_len:
            return f"must name at least {min_len} layer(s), got {list(value)!r}"
        if len(set(value)) != len(value):
            return f"a layer is named twice in {list(value)!r}"
        known = _module_names(arch, kinds)
        for name in value:
            if not isinstance(name, str) or name not in known:
                what = "/".join(k.__name__ for k in kinds) or "module"
                return (f"{name!r} is not a {what} of {arch}; e.g. "
                        f"{', '.join(known[:3])} … {known[-1]}")
        return None
    return check
