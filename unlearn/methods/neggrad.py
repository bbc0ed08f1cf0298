"""`neggrad`: "advanced NegGrad" — descend on the retain set, ascend on the forget set
(docs/methods.md#neggrad).

Source: Choi & Na 2023, "Towards Machine Unlearning Benchmarks" (MUFAC),
https://arxiv.org/abs/2311.02240, their advanced NegGrad baseline; as run by the COMP540 study.
Update, per step: each retain batch is paired with the next forget batch (the forget
iterator restarts, reshuffled, when exhausted — `train.paired_batches`), and
    θ ← θ − η ∇[ CE(θ; B_r) − λ·CE(θ; B_f) ],
one pass over D_r per epoch. The two batches go through the model in separate forward
passes in train mode (BatchNorm uses and updates batch statistics), as in Choi & Na's loop;
the retain term is backpropagated before the forget batch's forward pass, so one batch's
graph is held at a time (the gradient is the same sum; at 128 px this is the difference
between one and two batches of activations).

Defaults are the study's: λ = 0.1, Adam lr 1e-4, weight decay 5e-3, 1 epoch, batch 64
(the study gives "Adam lr 1e-4, wd 5e-3, 1 epoch" for every gradient method and no batch
size; 64 is MUFAC's). Choi & Na's own setting (their MUFAC NegGrad notebook,
https://github.com/ndb796/MachineUnlearning, 01_MUFAC/Machine_Unlearning_MUFAC_NegGrad.ipynb
at commit 9813cd75f959e535575e0ba5e5bd2d4d40348165) is λ = 1 and plain
`optim.SGD(params, lr=0.001)` — no momentum, no weight decay — for 2 epochs, batch 64
(presets/neggrad_choi_na.yaml):
    unlearn:
      neggrad: {lam: 1.0, optimizer: sgd, lr: 0.001, momentum: 0.0, weight_decay: 0.0, epochs: 2}

Departures: none in the update rule. The forget batch has the retain batch size unless
`forget_batch_size` is set (Choi & Na use one batch size for both loaders).
Choi & Na's loop also skips every pair whose forget and retain batches differ in size
(`if x_forget.size(0) != x_retain.size(0): continue`): on MUFAC (1,500 forget images,
batches of 64) that drops the pairs with the short last forget batch (28 images) and
the short last retain batch. We keep every pair: with a forget set smaller than one
batch (this project's default, 50 images) every pair would differ and the skip would
turn the method into a no-op; with their sizes it drops about 1 step in 24.
"""
from typing import Literal


from unlearn.core.checks import at_least, non_negative
from unlearn.core.config import config, inherit, param
from unlearn.methods import register
from unlearn.training.augment import Augment
from unlearn.training.optim import EpochConfig, optimizer_for
from unlearn.training.train import paired_batches, paired_forwards, run_epoch


@config
class NegGradConfig(EpochConfig):
    # defaults: the study's; Choi & Na's own setting is presets/neggrad_choi_na.yaml
    optimizer: Literal["adam", "sgd"] = inherit("adam", "adam or sgd (study adam; Choi & Na "
                                                "sgd)")
    lr: float = inherit(1e-4, "learning rate (study 1e-4; Choi & Na 1e-3)")
    weight_decay: float = inherit(5e-3, "the optimiser's L2 penalty (study 5e-3; Choi & Na 0)")
    momentum: float = inherit(0.0, "SGD momentum, unused by adam (Choi & Na 0)")
    epochs: int = inherit(1, "passes over the retain set (study 1; Choi & Na 2)")
    batch_size: int = inherit(64, "retain images per step (study: not stated; Choi & Na 64)")
    forget_batch_size: int = param(0, "forget images per step; 0 = batch_size", at_least(0))
    lam: float = param(0.1, "λ, weight of the forget CE (study 0.1; Choi & Na 1.0)",
                       non_negative)
    augment: Augment = param("none", "augmentation of both batches")


@register("neggrad", NegGradConfig)
def neggrad(model, ctx, cfg):
    opt = optimizer_for(model.parameters(), cfg)

    def step_loss(pair):   # two terms: one batch's graph alive at a time
        return neggrad_terms(*paired_forwards(model, ctx.retain, ctx.forget, pair, ctx.device,
                                              cfg.augment, ctx.generator), cfg.lam)

    for _ in range(cfg.epochs):
        run_epoch(model, opt, paired_batches(len(ctx.retain), len(ctx.forget), cfg.batch_size,
                                             ctx.generator, cfg.forget_batch_size or None),
                  step_loss)
    return model


def neggrad_terms(retain_ce, forget_ce, lam):
    """CE(retain) − λ·CE(forget) as its two terms, in order; `retain_ce` and `forget_ce` are
    callables that run their forward pass when the term is asked for (after the previous
    term's backward, in `run_epoch`)."""
    yield retain_ce()
    yield -(lam * forget_ce())
