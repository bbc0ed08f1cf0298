"""`gisa`: Gradient-Informed Synaptic Adjustment, the COMP540 study's own method
(docs/methods.md#gisa).

Source: the study's report (Rice COMP540, December 2023; title, authors and URL not recorded,
docs/study.md#source); its code is not available, so this follows the report's formulas
exactly.
1. I_f, I_r: importances on D_f and D_r, as in SSD (unlearn.unlearning.importance).
2. One optimiser parameter group per parameter tensor i, with learning rate
       η_i = η_base · (1 + mean_elements( max( log( I_f,i / (I_r,i + ε) ), 0 ) ))
3. On paired retain/forget batches (forget iterator restarting, as in neggrad):
       JointLoss = RetainLoss² / (ForgetLoss + ε),  RetainLoss, ForgetLoss = batch-mean CE,
   θ_i ← θ_i − η_i ∇JointLoss (through the optimiser; study: Adam, base 1e-4, wd 5e-3,
   1 epoch; batch 64 as MUFAC — the study states no batch size).

Note: the report's prose says the learning rate of forget-critical weights is "dampened",
but max(log(·), 0) ≥ 0 makes the factor ≥ 1 — tensors important to D_f relative to D_r
get a *larger* step. We implement the formula, not the prose.

ε (the study gives no value): `eps`, default 1e-8, used in both places. In the ratio it keeps
I_f / (I_r + ε) finite where I_r = 0; where I_f = 0, log(0) = −inf and max(−inf, 0) = 0,
so such elements add nothing (no NaN arises as long as ε > 0). In the loss it keeps the
quotient finite as the forget loss approaches 0.

Departures/choices: importances are per-example by default (`importance: batch` gives
Foster et al.'s batch-mean form); training runs in train mode (BatchNorm batch statistics),
as the study's other gradient methods; forget batches have the retain batch size; Adam's
weight decay is the usual L2 term added to the gradient, in every group.
"""
import torch
import torch.nn.functional as F

from unlearn.methods import register
from unlearn.training.augment import AUGMENTATIONS
from unlearn.training.train import batch, make_optimizer, paired_batches
from unlearn.unlearning.checks import at_least, non_negative, one_of, positive
from unlearn.unlearning.importance import FORMS, importances


@register("gisa", optimizer="adam", lr=1e-4, weight_decay=5e-3, momentum=0.0, epochs=1,
          batch_size=64, eps=1e-8, importance="per_example", chunk_size=64, augment="none",
          checks={"optimizer": one_of("adam", "sgd"), "lr": positive,
                  "weight_decay": non_negative, "momentum": non_negative,
                  "epochs": at_least(0), "batch_size": at_least(1),
                  "eps": positive,            # keeps the log and the division finite
                  "importance": one_of(*FORMS), "chunk_size": at_least(1),
                  "augment": one_of(*AUGMENTATIONS)})
def gisa(model, ctx, cfg):
    imp = {split_name: importances(model, split, ctx.device, form=cfg["importance"],
                                   batch_size=cfg["batch_size"], chunk_size=cfg["chunk_size"],
                                   generator=ctx.generator)
           for split_name, split in (("forget", ctx.forget), ("retain", ctx.retain))}
    rates = learning_rates(imp["forget"], imp["retain"], cfg["lr"], cfg["eps"])
    groups = [{"params": [p], "lr": rates[name], "name": name}
              for name, p in model.named_parameters() if name in rates]  # frozen: not trained
    opt = make_optimizer(groups, cfg["optimizer"], cfg["lr"], cfg["weight_decay"], cfg["momentum"])
    model.train()
    for _ in range(cfg["epochs"]):
        for r_index, f_index in paired_batches(len(ctx.retain), len(ctx.forget),
                                               cfg["batch_size"], ctx.generator):
            x_r, y_r = batch(ctx.retain, r_index, ctx.device, cfg["augment"], ctx.generator)
            x_f, y_f = batch(ctx.forget, f_index, ctx.device, cfg["augment"], ctx.generator)
            loss = joint_loss(F.cross_entropy(model(x_r), y_r),
                              F.cross_entropy(model(x_f), y_f), cfg["eps"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def learning_rates(i_f, i_r, base_lr, eps):
    """Per-tensor η_i = base · (1 + mean(max(log(I_f / (I_r + ε)), 0))) as Python floats."""
    rates = {}
    for name, f in i_f.items():
        ratio = f / (i_r[name] + eps)           # ≥ 0 and finite for ε > 0
        gain = torch.log(ratio).clamp(min=0.0)  # log 0 = −inf → 0
        rates[name] = base_lr * (1.0 + gain.double().mean().item())
    return rates


def joint_loss(retain_loss, forget_loss, eps):
    """JointLoss = RetainLoss² / (ForgetLoss + ε)."""
    return retain_loss.square() / (forget_loss + eps)
