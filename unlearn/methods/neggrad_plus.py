"""`neggrad_plus`: NegGrad+ (docs/methods.md#neggrad_plus).

Source: Kurmanji, Triantafillou, Hayes & Triantafillou, "Towards Unbounded Machine
Unlearning" (SCRUB paper), NeurIPS 2023, https://arxiv.org/abs/2302.09880, and their code
(https://github.com/meghdadk/SCRUB, commit not recorded: `train_negrad` in
thirdparty/repdistiller/helper/loops.py for the ResNet runs; `l2_penalty` and
`run_train_epoch` in the small-scale notebooks).
Update, per step on a retain batch paired with the next forget batch (forget pass
restarting when exhausted; `train.paired_batches`):
    loss = α·( CE(B_r) + (wd/2)·‖θ − θ_0‖² ) − (1 − α)·CE(B_f),   θ ← SGD(θ, ∇loss),
θ_0 = the original weights. Every NegGrad+ run in their code builds plain
`SGD(lr, weight_decay=0)`: no momentum (momentum 0.9 belongs to SCRUB's optimiser).

Defaults (NegGradPlusConfig) = their ResNet (large-scale) setting, `train_negrad`:
α = 0.9999, SGD lr 0.01, model in train mode (BatchNorm normalises with batch statistics
and updates its running statistics), no L2 term (weight_decay = 0 switches it off).
Epochs: they run 5–10; we give it the study's 1-epoch budget for gradient methods
(docs/study.md#setup), batch 64 (MUFAC's).

Their small-scale setting (All-CNN without BatchNorm): α = 0.95, model in eval mode
(BatchNorm frozen: running statistics used and kept), the L2-to-θ_0 term with wd 0.1,
10 epochs, batch 64 (their notebooks use 32 or 64) — presets/neggrad_plus_small_scale.yaml:
    unlearn:
      neggrad_plus: {alpha: 0.95, bn_mode: eval, weight_decay: 0.1, epochs: 10}
Run with SGD momentum 0.9 on a BN-frozen ResNet-18, α = 0.95 diverged on every run of
this project's default data; it is a small-scale recipe, not a ResNet one.

Departures: their `cycle(delete_loader)` replays the first pass's forget batches in the
same order; we reshuffle the forget set at each restart (as neggrad and gisa do).
Batches have near-equal sizes instead of a short last one (unlearn/training/loops.py says why:
in train mode a 7-image batch wrecked the model on the default data). The L2 term is
computed only when weight_decay > 0 (it is 0 otherwise). The retain term is
backpropagated before the forget batch's forward pass (one batch's graph held at a time);
the step is the gradient of the same sum. With the L2 term on, each weight's gradient adds
three parts in another order than one backward pass of L would: the same value, but the
bytes may differ from runs made before this change (without it, two parts: the same bytes).
"""
from typing import Literal


from unlearn.core.checks import in_unit_interval
from unlearn.core.config import config, inherit, param
from unlearn.methods import register
from unlearn.training.augment import Augment
from unlearn.training.optim import SGDEpochConfig, make_optimizer
from unlearn.training.train import paired_batches, paired_forwards, run_epoch


@config
class NegGradPlusConfig(SGDEpochConfig):
    # no `optimizer` key: the optimiser is always plain SGD without weight decay, and
    # `weight_decay` is the L2-to-θ0 term's. Defaults: their ResNet setting (train_negrad)
    lr: float = inherit(0.01, "SGD learning rate (theirs 0.01)")
    weight_decay: float = inherit(0.0, "wd of the (wd/2)·‖θ − θ0‖² term, 0 = off (ResNet "
                                  "none; small-scale 0.1)")
    momentum: float = inherit(0.0, "SGD momentum (theirs 0: plain SGD in every NegGrad+ run)")
    epochs: int = inherit(1, "passes over the retain set (the study's gradient-method "
                          "budget; theirs 5–10 ResNet, 10 small-scale)")
    batch_size: int = inherit(64, "images per step, both sets (MUFAC's; their small-scale "
                              "32 or 64)")
    alpha: float = param(0.9999, "α, weight of the retain CE; 1 − α of the forget CE "
                         "(ResNet 0.9999; small-scale 0.95)", in_unit_interval)
    bn_mode: Literal["train", "eval"] = param(
        "train", "train, or eval = BatchNorm frozen (ResNet train; small-scale eval)")
    augment: Augment = param("none", "augmentation of both batches")


@register("neggrad_plus", NegGradPlusConfig)
def neggrad_plus(model, ctx, cfg):
    initial = ([p.detach().clone() for p in model.parameters()]
               if cfg.weight_decay > 0 else None)
    opt = make_optimizer(model.parameters(), "sgd", cfg.lr, 0.0, cfg.momentum)

    def step_loss(pair):
        l2 = (l2_to_initial(model.parameters(), initial, cfg.weight_decay)
              if initial is not None else 0.0)
        retain_ce, forget_ce = paired_forwards(model, ctx.retain, ctx.forget, pair,
                                               ctx.device, cfg.augment, ctx.generator)
        return neggrad_plus_terms(retain_ce, forget_ce, l2, cfg.alpha)   # one graph at a time

    for _ in range(cfg.epochs):
        # eval: BatchNorm normalises with its running statistics and never updates them
        run_epoch(model, opt, paired_batches(len(ctx.retain), len(ctx.forget), cfg.batch_size,
                                             ctx.generator),
                  step_loss, train=cfg.bn_mode == "train")
    return model


def l2_to_initial(params, initial, weight_decay):
    """(wd/2)·Σ‖p − p_0‖² over the parameters (SCRUB's `l2_penalty`)."""
    total = sum((p - p0).square().sum() for p, p0 in zip(params, initial))
    return (weight_decay / 2.0) * total


def neggrad_plus_terms(retain_ce, forget_ce, l2, alpha):
    """α·(CE(retain) + L2) − (1 − α)·CE(forget) as its two terms, in order; the CEs are
    callables that run their forward pass when their term is asked for (`run_epoch`
    backpropagates each term before asking for the next)."""
    yield alpha * (retain_ce() + l2)
    yield -((1.0 - alpha) * forget_ce())
