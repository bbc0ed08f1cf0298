"""`neggrad_plus`: NegGrad+ (SPEC §3.8).

Source: Kurmanji, Triantafillou, Hayes & Triantafillou, "Towards Unbounded Machine
Unlearning" (SCRUB paper), NeurIPS 2023, and their code (github.com/meghdadk/SCRUB:
`train_negrad` in thirdparty/repdistiller/helper/loops.py; `l2_penalty` and
`run_train_epoch` in its notebooks).
Update, per step on a retain batch paired with the next forget batch (forget iterator
restarting when exhausted, `train.paired_batches`):
    loss = α·( CE(B_r) + (wd/2)·‖θ − θ_0‖² ) − (1 − α)·CE(B_f),   θ ← SGD(θ, ∇loss),
θ_0 = the original weights, α = 0.95, SGD lr 0.01, momentum 0.9, with the model in eval
mode so BatchNorm uses and keeps its running statistics (frozen).

Choices and departures:
- wd = 5e-4 (`weight_decay`): SPEC gives none. The SCRUB code regularises towards the
  initial weights with `l2_penalty(model, model_init, args.weight_decay)` =
  (wd/2)·Σ‖p − p_0‖² inside `run_train_epoch` (which also puts the model in eval mode),
  and its large-scale runs use `--weight-decay 5e-4`. The decay acts only through this
  term: the optimiser itself has no weight decay (which would pull towards 0, not θ_0).
- The L2 term sits inside α(·) as SPEC §3.8 writes it; in `train_negrad` the loss is
  α·r_loss − (1 − α)·del_loss and the model is in train mode — we follow SPEC (eval mode).
- epochs = 1: SPEC gives no count; the study ran every gradient method for 1 epoch
  (SPEC §1), so NegGrad+ gets the same budget. Batch 64 (MUFAC's; none stated).
"""
import torch.nn.functional as F

from . import register
from ..errors import UserError
from ..train import batch, make_optimizer, paired_batches


@register("neggrad_plus", alpha=0.95, lr=0.01, momentum=0.9, weight_decay=5e-4, epochs=1,
          batch_size=64, augment="none")
def neggrad_plus(model, ctx, cfg):
    if not 0.0 <= cfg["alpha"] <= 1.0:
        raise UserError("neggrad_plus.alpha must lie in [0, 1]")
    initial = [p.detach().clone() for p in model.parameters()]
    opt = make_optimizer(model.parameters(), "sgd", cfg["lr"], 0.0, cfg["momentum"])
    model.eval()  # BatchNorm frozen: normalises with its running statistics, never updates them
    for _ in range(cfg["epochs"]):
        for r_index, f_index in paired_batches(len(ctx.retain), len(ctx.forget),
                                               cfg["batch_size"], ctx.generator):
            x_r, y_r = batch(ctx.retain, r_index, ctx.device, cfg["augment"], ctx.generator)
            x_f, y_f = batch(ctx.forget, f_index, ctx.device, cfg["augment"], ctx.generator)
            l2 = l2_to_initial(model.parameters(), initial, cfg["weight_decay"])
            loss = neggrad_plus_loss(F.cross_entropy(model(x_r), y_r),
                                     F.cross_entropy(model(x_f), y_f), l2, cfg["alpha"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def l2_to_initial(params, initial, weight_decay):
    """(wd/2)·Σ‖p − p_0‖² over the parameters (SCRUB's `l2_penalty`)."""
    total = sum((p - p0).square().sum() for p, p0 in zip(params, initial))
    return (weight_decay / 2.0) * total


def neggrad_plus_loss(retain_ce, forget_ce, l2, alpha):
    """α·(CE(retain) + L2) − (1 − α)·CE(forget)."""
    return alpha * (retain_ce + l2) - (1.0 - alpha) * forget_ce
