"""`neggrad`: "advanced NegGrad" — descend on the retain set, ascend on the forget set (SPEC §3.2).

Source: Choi & Na 2023, "Towards Machine Unlearning Benchmarks" (MUFAC), their advanced
NegGrad baseline; as run by the COMP540 study.
Update, per step: each retain batch is paired with the next forget batch (the forget
iterator restarts, reshuffled, when exhausted — `train.paired_batches`), and
    θ ← θ − η ∇[ CE(θ; B_r) − λ·CE(θ; B_f) ],
one pass over D_r per epoch. The two batches go through the model in separate forward
passes in train mode (BatchNorm uses and updates batch statistics), as in Choi & Na's loop.

Defaults are the study's: λ = 0.1, Adam lr 1e-4, weight decay 5e-3, 1 epoch, batch 64
(the study gives "Adam lr 1e-4, wd 5e-3, 1 epoch" for every gradient method and no batch
size; 64 is MUFAC's). Choi & Na's own setting is λ = 1, SGD lr 1e-3, 2 epochs:
    unlearn:
      neggrad: {lam: 1.0, optimizer: sgd, lr: 0.001, momentum: 0.9, weight_decay: 0.0, epochs: 2}
(momentum 0.9 / no weight decay are taken from their training recipe, SPEC §2; the
unlearning optimiser's momentum and decay are not stated.)

Departures: none in the update rule. The forget batch has the retain batch size unless
`forget_batch_size` is set (Choi & Na use one batch size for both loaders).
"""
import torch.nn.functional as F

from . import register
from ..errors import UserError
from ..train import batch, make_optimizer, paired_batches


@register("neggrad", optimizer="adam", lr=1e-4, weight_decay=5e-3, momentum=0.0, epochs=1,
          batch_size=64, forget_batch_size=0, lam=0.1, augment="none")
def neggrad(model, ctx, cfg):
    if cfg["epochs"] < 0 or cfg["batch_size"] < 1 or cfg["forget_batch_size"] < 0:
        raise UserError("neggrad: epochs must be ≥ 0, batch_size ≥ 1, forget_batch_size ≥ 0")
    opt = make_optimizer(model.parameters(), cfg["optimizer"], cfg["lr"],
                         cfg["weight_decay"], cfg["momentum"])
    model.train()
    for _ in range(cfg["epochs"]):
        for r_index, f_index in paired_batches(len(ctx.retain), len(ctx.forget), cfg["batch_size"],
                                               ctx.generator, cfg["forget_batch_size"] or None):
            x_r, y_r = batch(ctx.retain, r_index, ctx.device, cfg["augment"], ctx.generator)
            x_f, y_f = batch(ctx.forget, f_index, ctx.device, cfg["augment"], ctx.generator)
            loss = neggrad_loss(F.cross_entropy(model(x_r), y_r),
                                F.cross_entropy(model(x_f), y_f), cfg["lam"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def neggrad_loss(retain_ce, forget_ce, lam):
    """CE(retain) − λ·CE(forget)."""
    return retain_ce - lam * forget_ce
