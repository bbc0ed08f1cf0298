"""Training passes with hooks, for methods whose step is more than plain cross-entropy.

`train.train_epoch` is one epoch of CE; the methods added beyond the study need the same
pass with a different loss (relabelled targets, an L1 term, teacher logits looked up by
index, class weights) or something done between backward and step (gradient masks)
and after the step (restoring frozen weights). `loss_epoch` is that pass: the one epoch loop
(`train.run_epoch`) over the one batcher (`train.batch_indices`) with a loss that sees the
batch's indices.

History: these methods used to cut a pass into ceil(n / batch_size) batches of near-equal
size (`even_batches`), the study's methods and the models' training into batches of
batch_size with a shorter last one; one batcher now serves all (issue 19). `batch_indices`
merges a trailing batch of one example into the one before it, the case where BatchNorm in
train mode cannot normalise at all; a short last batch of a few examples remains and gives
that step a larger gradient (on a 583-image retain set of the time, a last batch of 7 gave
NegGrad+ a gradient ~9x the others'; the default data's retain set, 599 images, leaves 23 at
batch 64 and 87 at batch 256).
"""
import torch
import torch.nn.functional as F

from unlearn.core.config import config, inherit, param
from unlearn.training.optim import SGDEpochConfig
from unlearn.training.train import batch, batch_indices, run_epoch


def loss_epoch(model, split, optimizer, loss_fn, *, batch_size, generator, device,
               labels=None, before_step=None, after_step=None, max_steps=None):
    """One shuffled pass over `split` in train mode, one optimiser step per batch.

    loss_fn(logits, y, index) -> scalar loss, where `index` holds the batch's positions
    in `split` (to look up cached teacher logits). `labels` replaces split.labels (e.g.
    random labels for the forget set). `before_step()` runs after backward and before
    optimizer.step() (gradient masks, scaling); `after_step()` after it (restoring frozen
    weights). Stops after `max_steps` steps when given. Returns the steps taken.
    """
    def step_loss(index):
        x, y = batch(split, index, device)
        if labels is not None:
            y = labels[index].to(device)
        return loss_fn(model(x), y, index)

    return run_epoch(model, optimizer, batch_indices(len(split), batch_size, generator),
                     step_loss, before_step=before_step, after_step=after_step,
                     max_steps=max_steps)


def cross_entropy(logits, y, index=None):
    """Plain CE in `loss_fn` form."""
    return F.cross_entropy(logits, y)


def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr


def class_weights(labels, num_classes, power=-1.0):
    """Per-class weights count_c ** power from the labels (classes absent from `labels`
    get 0: no example of them is ever weighted). power −1: inverse frequency."""
    counts = torch.bincount(labels, minlength=num_classes).double()
    weights = torch.where(counts > 0, counts.clamp(min=1) ** power, torch.zeros_like(counts))
    return weights.float()


def seeded_normal_like(tensor, std, generator):
    """N(0, std²) noise shaped like `tensor`, drawn on the CPU from `generator` (so the
    draw is the same on every device), moved to the tensor's device and dtype."""
    noise = torch.randn(tensor.shape, generator=generator, dtype=torch.float32) * std
    return noise.to(device=tensor.device, dtype=tensor.dtype)


def forked_seed(generator):
    """A fresh integer seed drawn from `generator`, for code that uses the global RNG
    (nn.init, reset_parameters) inside torch.random.fork_rng."""
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))


def random_labels(labels, num_classes, generator, exclude_true=False):
    """Uniform labels in 0..C−1 (exclude_true: uniform over the C − 1 others), drawn and
    returned on the CPU whatever device `labels` is on."""
    labels = labels.cpu()
    if exclude_true:
        shift = torch.randint(1, num_classes, labels.shape, generator=generator)
        return (labels + shift) % num_classes
    return torch.randint(0, num_classes, labels.shape, generator=generator)


def random_label_epoch(model, ctx, cfg, opt, before_step=None, after_step=None):
    """One epoch of Random Labelling (random_label, salun): a pass over D_f against
    labels drawn afresh (cfg.exclude_true: only wrong ones), then a pass over D_r."""
    relabelled = random_labels(ctx.forget.labels, ctx.num_classes, ctx.generator,
                               cfg.exclude_true)
    common = dict(batch_size=cfg.batch_size, generator=ctx.generator, device=ctx.device,
                  before_step=before_step, after_step=after_step)
    loss_epoch(model, ctx.forget, opt, cross_entropy, labels=relabelled, **common)
    loss_epoch(model, ctx.retain, opt, cross_entropy, **common)


@config
class SGDConfig(SGDEpochConfig):
    """The keys of the SGD-only methods beyond the study (random_label, salun, l1_sparse,
    reinit_finetune, noise_finetune, prune_reinit, reset_distill): plain SGD, no `optimizer`
    key. Each method sets its own defaults and notes with `inherit(...)`; every one of their
    sources uses momentum 0.9 and weight decay 5e-4."""
    lr: float = inherit(1e-3, "SGD learning rate")
    momentum: float = inherit(0.9, "SGD momentum; theirs 0.9")
    weight_decay: float = inherit(5e-4, "SGD weight decay; theirs 5e-4")
    epochs: int = inherit(2, "passes over D_r")


@config
class RandomLabelKeys(SGDConfig):
    """The keys `random_label_epoch` reads, shared by random_label and salun."""
    epochs: int = inherit(2, "epochs of (D_f with random labels, then D_r); theirs 10 (÷5)")
    batch_size: int = inherit(256, "images per step; theirs 256")
    exclude_true: bool = param(False, "true: draw only wrong labels (theirs may draw the "
                               "true one)")
