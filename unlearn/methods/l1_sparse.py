"""`l1_sparse`: ℓ1-sparse fine-tuning ("model sparsity" unlearning).

Source: Jia, Liu, Ram, Yao, Liu, Liu, Sharma & Liu, "Model Sparsity Can Simplify Machine
Unlearning", NeurIPS 2023, https://arxiv.org/abs/2304.04934;
https://github.com/OPTML-Group/Unlearn-Sparse (commit 80ba55d36d0871465c2d3e3896db26a98070e065),
unlearn/FT.py (`FT_iter` with_l1, `l1_regularization`).
Update: train on D_r with
    loss = CE + γ_e · ‖θ‖₁   (all parameters),   γ_e = α · (1 − e / E),  e = 0 … E − 1,
so γ decays linearly per epoch from α to α/E (their `no_l1_epochs` = 0). SGD with
momentum 0.9, weight decay 5e-4, model in train mode.

Defaults: α = 1e-4, lr 0.01, momentum 0.9, wd 5e-4, batch 256 — theirs. Epochs: theirs
are 10; 2 here (÷5; γ = α then α/2), to keep a run near the cost of the study's other
gradient methods on this project's CPU budget (bench/methods.py gives the measured ratio
to finetune). Note that E sets the schedule, so changing `epochs` changes every γ_e.

Choices: ‖θ‖₁ is Σ|p| summed tensor by tensor (the source concatenates all parameters
into one vector first; the value and gradient are the same). Batches: near-equal sizes
(unlearn/training/loops.py says why).
"""
import torch.nn.functional as F

from unlearn.core.checks import non_negative
from unlearn.core.config import config, inherit, param
from unlearn.methods import register
from unlearn.training.loops import SGDConfig, loss_epoch
from unlearn.training.train import sgd


def l1_gamma(epoch, epochs, alpha):
    """γ for the 0-based epoch: α·(1 − epoch/epochs)."""
    return alpha * (1.0 - epoch / epochs)


def l1_norm(params):
    return sum(p.abs().sum() for p in params)


@config
class L1SparseConfig(SGDConfig):
    # momentum 0.9, weight decay 5e-4: theirs
    lr: float = inherit(0.01, "SGD learning rate; theirs 0.01")
    epochs: int = inherit(2, "E, passes over D_r; theirs 10 (÷5); E also sets the γ schedule")
    batch_size: int = inherit(256, "images per step; theirs 256")
    alpha: float = param(1e-4, "α: γ_e = α(1 − e/E) weighs ‖θ‖₁ in CE + γ_e·‖θ‖₁; theirs 1e-4",
                         non_negative)


@register("l1_sparse", L1SparseConfig)
def l1_sparse(model, ctx, cfg):
    params = list(model.parameters())
    opt = sgd(params, lr=cfg.lr, momentum=cfg.momentum,
              weight_decay=cfg.weight_decay)
    for epoch in range(cfg.epochs):
        gamma = l1_gamma(epoch, cfg.epochs, cfg.alpha)

        def loss_fn(logits, y, index, gamma=gamma):
            return F.cross_entropy(logits, y) + gamma * l1_norm(params)

        loss_epoch(model, ctx.retain, opt, loss_fn, batch_size=cfg.batch_size,
                   generator=ctx.generator, device=ctx.device)
    return model
