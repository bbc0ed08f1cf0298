"""`contrastive`: 2nd place of the Kaggle NeurIPS 2023 unlearning competition (fanchuan;
docs/methods.md#contrastive).

Source: fanchuan's Kaggle notebook. The notebook itself was not found; what was read is a
public port of it, a `fanchuan` function in a SalUn-style `iterative_unlearn` framework
(`kl_loss_sym`, forget and repair phases), whose repository and commit were not recorded.
The update rule and every default below also hold in the Deep Unlearn benchmark's port,
`KGLTop1` in munl/unlearning/kgltop1.py of https://github.com/xcadet/deepunlearn, checked
against commit 6830ff6e5fd72f4793890ee31904814892625acf.

Update:
- Stage 1, one pass over D_f: minimise KL(uniform ‖ softmax(z)) (batch mean; the code's
  nn.KLDivLoss("batchmean")(LogSoftmax(z), uniform), which summaries write in argument
  order as "KL(log_softmax(z) ‖ uniform)"; docs/methods.md#kl-direction), SGD lr 5e-3
  momentum 0.9.
- Stage 2, `epochs` (8) times: a forget round over zip(D_f batches, shuffled D_r batches)
  minimising mean(−log_softmax(z_f · z_rᵀ / t, dim=−1)) with z_r detached, SGD lr 3e-4
  momentum 0.9 and CosineAnnealingLR(T_max = epochs · #forget batches, eta_min 1e-6)
  stepped every batch; then a retain round, one epoch of CE on D_r, SGD
  lr = retain_base_lr · batch_size / 64, momentum 0.9, weight decay 1e-2. Batch 256.

The similarity matrix S = z_f z_rᵀ / t is [B_f, B_r]; the source's LogSoftmax(dim=-1)
normalises each forget example's row over the retain batch, and .mean() averages all
B_f·B_r entries. Per row that is logsumexp_j S_ij − mean_j S_ij ≥ log B_r, with equality
exactly when a forget example's logits are equally similar to every retain example's: it
pushes forget outputs away from any particular retain cluster (class) rather than towards one.

Three optimisers, as the port receives them (optimizer, optimizer_forget,
optimizer_retain): stage 1's, the forget round's (its momentum and schedule run across
all epochs) and the retain round's (its momentum persists across epochs). The model is
in train mode throughout, as in the source.

Departures from the source, and why:
- z_r is computed under torch.no_grad() instead of model(x_r).detach(): the same values
  and BatchNorm running-stat update (train mode), without building a graph that is
  thrown away. Forget and retain batches are still forwarded separately, forget first,
  so BatchNorm sees the same batches in the same order.
- No weight decay is given for stage 1 and the forget round (none is stated in the
  write-up or visible in the SalUn-style port; Deep Unlearn's port sets 0); they default
  to 0 and are keys of ContrastiveConfig.
- The port's loaders are built elsewhere; whether D_f is shuffled is not visible. Here
  every pass shuffles (seeded by ctx.generator); the retain loader is shuffled in both.
- The cosine schedule's T_max counts ceil(|D_f| / batch_size) forget steps per epoch, as
  the source's DataLoader has. Two cases take fewer steps, so the lr stops short of eta_min:
  `batch_indices` merges a trailing 1-image batch into the one before (|D_f| mod batch = 1;
  BatchNorm cannot train on one example), and the round pairs forget with retain batches,
  ending with the shorter list when retain has fewer batches.
- The study states no other values for this method; the entry's are the defaults.
"""
import torch
import torch.nn.functional as F

from unlearn.core.checks import non_negative, positive
from unlearn.core.config import config, inherit, param
from unlearn.methods import register
from unlearn.training.optim import EpochKeys, make_optimizer
from unlearn.training.train import batch, batch_indices, run_epoch
from unlearn.unlearning.distill import kl_loss


def uniform_kl_loss(logits):
    """Stage 1: KL(uniform ‖ softmax(logits)), batch mean (fanchuan's kl_loss_sym)."""
    uniform = torch.full_like(logits, 1.0 / logits.shape[1])
    return kl_loss(logits, teacher_probs=uniform, reduction="batchmean")


def contrastive_forget_loss(z_forget, z_retain, temperature=1.15):
    """mean over [B_f, B_r] of −log_softmax(z_f · z_rᵀ / t) along the retain axis (dim −1).

    z_retain is detached here as in the source, whichever way the caller computed it.
    """
    sim = z_forget @ z_retain.detach().T / temperature
    return (-F.log_softmax(sim, dim=-1)).mean()


def forget_round_steps(n_forget, batch_size, epochs):
    """T_max of the forget-round cosine schedule: epochs × number of forget batches."""
    return epochs * -(-n_forget // batch_size)


def stage1(model, ctx, opt, batch_size):
    """One pass over D_f pulling predictions to uniform."""
    def step_loss(index):
        return uniform_kl_loss(model(batch(ctx.forget, index, ctx.device)[0]))
    run_epoch(model, opt, batch_indices(len(ctx.forget), batch_size, ctx.generator), step_loss)


def forget_round(model, ctx, opt, sched, batch_size, temperature):
    """zip(forget batches, shuffled retain batches): stops at the shorter, as zip does."""
    pairs = zip(batch_indices(len(ctx.forget), batch_size, ctx.generator),
                batch_indices(len(ctx.retain), batch_size, ctx.generator))

    def step_loss(pair):
        f, r = pair
        z_f = model(batch(ctx.forget, f, ctx.device)[0])
        with torch.no_grad():
            z_r = model(batch(ctx.retain, r, ctx.device)[0])
        return contrastive_forget_loss(z_f, z_r, temperature)
    run_epoch(model, opt, pairs, step_loss, after_step=sched.step)


def retain_round(model, ctx, opt, batch_size):
    """One epoch of cross-entropy on D_r (the repair phase)."""
    def step_loss(index):
        x, y = batch(ctx.retain, index, ctx.device)
        return F.cross_entropy(model(x), y)
    run_epoch(model, opt, batch_indices(len(ctx.retain), batch_size, ctx.generator), step_loss)


def make_optimizers(model, cfg, n_forget):
    """The three optimisers and the forget-round scheduler, from cfg."""
    params = list(model.parameters())
    opt1 = make_optimizer(params, "sgd", cfg.stage1_lr, cfg.stage1_weight_decay,
                          cfg.stage1_momentum)
    opt_f = make_optimizer(params, "sgd", cfg.forget_lr, cfg.forget_weight_decay,
                           cfg.forget_momentum)
    opt_r = make_optimizer(params, "sgd", cfg.retain_base_lr * cfg.batch_size / 64,
                           cfg.retain_weight_decay, cfg.retain_momentum)
    t_max = max(1, forget_round_steps(n_forget, cfg.batch_size, cfg.epochs))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_f, T_max=t_max,
                                                       eta_min=cfg.eta_min)
    return opt1, opt_f, opt_r, sched


@config
class ContrastiveConfig(EpochKeys):
    # the study gives no values for this method: all are fanchuan's entry's (as in the
    # SalUn-style port and Deep Unlearn's KGLTop1); three SGD optimisers, no `optimizer` key
    epochs: int = inherit(8, "forget round + retain round repetitions after stage 1")
    batch_size: int = inherit(256, "images per batch, forget and retain")
    temperature: float = param(1.15, "t, divides the forget-retain logit similarity z_f·z_rᵀ",
                               positive)
    stage1_lr: float = param(5e-3, "SGD lr of stage 1 (KL to uniform on D_f)", positive)
    stage1_momentum: float = param(0.9, "SGD momentum of stage 1", non_negative)
    stage1_weight_decay: float = param(0.0, "weight decay of stage 1 (none stated; Deep "
                                       "Unlearn 0)", non_negative)
    forget_lr: float = param(3e-4, "SGD lr of the forget rounds, start of the cosine "
                             "schedule", positive)
    forget_momentum: float = param(0.9, "SGD momentum of the forget rounds", non_negative)
    forget_weight_decay: float = param(0.0, "weight decay of the forget rounds (none stated; "
                                       "Deep Unlearn 0)", non_negative)
    eta_min: float = param(1e-6, "floor of the forget rounds' cosine lr, T_max = epochs × "
                           "forget batches", non_negative)
    retain_base_lr: float = param(1e-3, "retain-round SGD lr = retain_base_lr × batch_size / "
                                  "64", positive)
    retain_momentum: float = param(0.9, "SGD momentum of the retain rounds", non_negative)
    retain_weight_decay: float = param(1e-2, "weight decay of the retain rounds",
                                       non_negative)


@register("contrastive", ContrastiveConfig)
def contrastive(model, ctx, cfg):
    bs = cfg.batch_size
    opt1, opt_f, opt_r, sched = make_optimizers(model, cfg, len(ctx.forget))
    stage1(model, ctx, opt1, bs)
    for _ in range(cfg.epochs):
        forget_round(model, ctx, opt_f, sched, bs, cfg.temperature)
        retain_round(model, ctx, opt_r, bs)
    return model
