"""The optimiser and budget keys the gradient methods share, declared once, and the
optimiser they build.

Three groups of keys, combined by inheritance: `OptimizerKey` (optimizer: adam | sgd),
`StepKeys` (lr, weight_decay, momentum) and `EpochKeys` (epochs, batch_size).
`OptimizerConfig` = optimizer + step keys, `EpochConfig` = all three (the study's gradient
methods: Adam lr 1e-4, wd 5e-3, 1 epoch, batch 64), `SGDEpochConfig` = step and epoch keys
of a method that is always SGD. A method changes a default (and, if it likes, the note) with
`inherit(...)`; the keys, their types and checks are written here only.
"""
import torch

from unlearn.core import compute
from unlearn.core.checks import at_least, non_negative, positive
from unlearn.core.config import Config, config, inherit, param
from unlearn.core.sections import Optimizer


@config
class OptimizerKey(Config):
    optimizer: Optimizer = param("adam", "adam or sgd")


@config
class StepKeys(Config):
    lr: float = param(1e-4, "learning rate", positive)
    weight_decay: float = param(5e-3, "the optimiser's L2 penalty", non_negative)
    momentum: float = param(0.0, "SGD momentum; unused by adam", non_negative)


@config
class EpochKeys(Config):
    epochs: int = param(1, "passes over the retain set", at_least(1))
    batch_size: int = param(64, "images per step", at_least(1))


@config
class OptimizerConfig(StepKeys, OptimizerKey):   # fields: optimizer, lr, weight_decay, momentum
    pass


@config
class EpochConfig(EpochKeys, OptimizerConfig):   # … then epochs, batch_size
    pass


@config
class SGDEpochConfig(EpochKeys, StepKeys):       # lr, weight_decay, momentum, epochs, batch_size
    momentum: float = inherit(0.9, "SGD momentum")


def fused_options():
    """The keyword that makes Adam/SGD one fused kernel, when the run's compute settings
    (unlearn/core/compute.py, `compute.fused_optimizer`) ask for it."""
    return {"fused": True} if compute.SCOPED["fused_optimizer"] else {}


def make_optimizer(params, name, lr, weight_decay=0.0, momentum=0.0):
    """Adam or SGD, fused when the run's compute settings ask for it."""
    extra = fused_options()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **extra)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               **extra)
    raise ValueError(f"optimizer {name!r} unknown; choose adam or sgd")


def optimizer_for(params, cfg):
    """The optimiser an OptimizerConfig describes."""
    return make_optimizer(params, cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.momentum)
