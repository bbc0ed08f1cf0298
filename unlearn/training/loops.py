"""Training passes with hooks, for methods whose step is more than plain cross-entropy.

`train.train_epoch` is one epoch of CE; the methods added beyond the study need the same
pass with a different loss (relabelled targets, an L1 term, teacher logits looked up by
index, class weights) or something done between backward and step (gradient masks)
and after the step (restoring frozen weights). `loss_epoch` is that pass, written once.

Batches: `even_batches` cuts a shuffled pass into ceil(n / batch_size) batches whose
sizes differ by at most one — as many steps as a DataLoader without drop_last, none
larger than batch_size, and no short trailing batch. The sources' loaders keep a short
last batch (n mod batch_size); on this project's default data of the time that was 583 mod 64 = 7
retain images, and BatchNorm in train mode over 7 examples (ResNet-18's last stage is
1×1 at 16 px) gave that step a gradient ~9× larger than the others (norm 125–133 vs
10–17). One epoch of NegGrad+ (plain SGD, lr 0.01) ended at retain accuracy 0.17 with
that batch (seed 0) and 0.50–0.75 without it (seeds 0–2); the original has 0.67
(measured on the default data with a probe script, not a test). At the sources' sizes
(MUFAC: 9,825 retain images, 128 px) the two are practically the same pass.
"""
import torch
import torch.nn.functional as F

from unlearn.training.train import batch, paired_batches


def loss_epoch(model, split, optimizer, loss_fn, *, batch_size, generator, device,
               labels=None, before_step=None, after_step=None, max_steps=None):
    """One shuffled pass over `split` in train mode, one optimiser step per batch.

    loss_fn(logits, y, index) -> scalar loss, where `index` holds the batch's positions
    in `split` (to look up cached teacher logits). `labels` replaces split.labels (e.g.
    random labels for the forget set). `before_step()` runs after backward and before
    optimizer.step() (gradient masks, scaling); `after_step()` after it (restoring frozen
    weights). Stops after `max_steps` steps when given. Returns the steps taken.
    """
    model.train()
    steps = 0
    for index in even_batches(len(split), batch_size, generator):
        if max_steps is not None and steps >= max_steps:
            break
        x, y = batch(split, index, device)
        if labels is not None:
            y = labels[index].to(device)
        loss = loss_fn(model(x), y, index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if before_step is not None:
            before_step()
        optimizer.step()
        if after_step is not None:
            after_step()
        steps += 1
    return steps


def even_batches(n, batch_size, generator):
    """A shuffled pass over range(n) in ceil(n / batch_size) batches of near-equal size."""
    if n == 0:
        return []
    order = torch.randperm(n, generator=generator)
    return list(order.tensor_split(-(-n // batch_size)))


def even_paired_batches(n_retain, n_forget, batch_size, generator):
    """`train.paired_batches` with even batches (see `even_batches`)."""
    return paired_batches(n_retain, n_forget, batch_size, generator, batcher=even_batches)


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
    labels drawn afresh (cfg["exclude_true"]: only wrong ones), then a pass over D_r."""
    relabelled = random_labels(ctx.forget.labels, ctx.num_classes, ctx.generator,
                               cfg["exclude_true"])
    common = dict(batch_size=cfg["batch_size"], generator=ctx.generator, device=ctx.device,
                  before_step=before_step, after_step=after_step)
    loss_epoch(model, ctx.forget, opt, cross_entropy, labels=relabelled, **common)
    loss_epoch(model, ctx.retain, opt, cross_entropy, **common)
