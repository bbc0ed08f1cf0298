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
import torch
import torch.nn.functional as F

from unlearn.methods import register
from unlearn.training.train import sgd
from unlearn.unlearning.checks import at_least, non_negative, positive
from unlearn.training.loops import loss_epoch


def l1_gamma(epoch, epochs, alpha):
    """γ for the 0-based epoch: α·(1 − epoch/epochs)."""
    return alpha * (1.0 - epoch / epochs)


def l1_norm(params):
    return sum(p.abs().sum() for p in params)


@register("l1_sparse", alpha=1e-4, lr=0.01, momentum=0.9, weight_decay=5e-4, epochs=2,
          batch_size=256,
          checks={"alpha": non_negative, "lr": positive, "momentum": non_negative,
                  "weight_decay": non_negative, "epochs": at_least(1),
                  "batch_size": at_least(1)})
def l1_sparse(model, ctx, cfg):
    params = list(model.parameters())
    opt = sgd(params, lr=cfg["lr"], momentum=cfg["momentum"],
                          weight_decay=cfg["weight_decay"])
    for epoch in range(cfg["epochs"]):
        gamma = l1_gamma(epoch, cfg["epochs"], cfg["alpha"])

        def loss_fn(logits, y, index, gamma=gamma):
            return F.cross_entropy(logits, y) + gamma * l1_norm(params)

        loss_epoch(model, ctx.retain, opt, loss_fn, batch_size=cfg["batch_size"],
                   generator=ctx.generator, device=ctx.device)
    return model
