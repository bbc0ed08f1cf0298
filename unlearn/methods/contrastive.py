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
  to 0 and are params.
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

from unlearn.methods import register
from unlearn.unlearning.distill import kl_loss
from unlearn.training.train import batch, batch_indices, sgd as train_sgd
from unlearn.unlearning.checks import at_least, non_negative, positive


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


def _step(opt, loss):
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def stage1(model, ctx, opt, batch_size):
    """One pass over D_f pulling predictions to uniform."""
    model.train()
    for index in batch_indices(len(ctx.forget), batch_size, ctx.generator):
        x, _ = batch(ctx.forget, index, ctx.device)
        _step(opt, uniform_kl_loss(model(x)))


def forget_round(model, ctx, opt, sched, batch_size, temperature):
    """zip(forget batches, shuffled retain batches): stops at the shorter, as zip does."""
    model.train()
    pairs = zip(batch_indices(len(ctx.forget), batch_size, ctx.generator),
                batch_indices(len(ctx.retain), batch_size, ctx.generator))
    for f, r in pairs:
        x_f, _ = batch(ctx.forget, f, ctx.device)
        x_r, _ = batch(ctx.retain, r, ctx.device)
        z_f = model(x_f)
        with torch.no_grad():
            z_r = model(x_r)
        _step(opt, contrastive_forget_loss(z_f, z_r, temperature))
        sched.step()


def retain_round(model, ctx, opt, batch_size):
    """One epoch of cross-entropy on D_r (the repair phase)."""
    model.train()
    for index in batch_indices(len(ctx.retain), batch_size, ctx.generator):
        x, y = batch(ctx.retain, index, ctx.device)
        _step(opt, F.cross_entropy(model(x), y))


def make_optimizers(model, cfg, n_forget):
    """The three optimisers and the forget-round scheduler, from cfg."""
    params = list(model.parameters())
    sgd = train_sgd
    opt1 = sgd(params, lr=cfg["stage1_lr"], momentum=cfg["stage1_momentum"],
               weight_decay=cfg["stage1_weight_decay"])
    opt_f = sgd(params, lr=cfg["forget_lr"], momentum=cfg["forget_momentum"],
                weight_decay=cfg["forget_weight_decay"])
    opt_r = sgd(params, lr=cfg["retain_base_lr"] * cfg["batch_size"] / 64,
                momentum=cfg["retain_momentum"], weight_decay=cfg["retain_weight_decay"])
    t_max = max(1, forget_round_steps(n_forget, cfg["batch_size"], cfg["epochs"]))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_f, T_max=t_max,
                                                       eta_min=cfg["eta_min"])
    return opt1, opt_f, opt_r, sched


@register("contrastive", batch_size=256, epochs=8, temperature=1.15,
          stage1_lr=5e-3, stage1_momentum=0.9, stage1_weight_decay=0.0,
          forget_lr=3e-4, forget_momentum=0.9, forget_weight_decay=0.0, eta_min=1e-6,
          retain_base_lr=1e-3, retain_momentum=0.9, retain_weight_decay=1e-2,
          checks={"batch_size": at_least(1), "epochs": at_least(0), "temperature": positive,
                  "stage1_lr": positive, "stage1_momentum": non_negative,
                  "stage1_weight_decay": non_negative, "forget_lr": positive,
                  "forget_momentum": non_negative, "forget_weight_decay": non_negative,
                  "eta_min": non_negative, "retain_base_lr": positive,
                  "retain_momentum": non_negative, "retain_weight_decay": non_negative})
def contrastive(model, ctx, cfg):
    bs = cfg["batch_size"]
    opt1, opt_f, opt_r, sched = make_optimizers(model, cfg, len(ctx.forget))
    stage1(model, ctx, opt1, bs)
    for _ in range(cfg["epochs"]):
        forget_round(model, ctx, opt_f, sched, bs, cfg["temperature"])
        retain_round(model, ctx, opt_r, bs)
    return model
