"""Shared loops: the one batcher, the one epoch loop, evaluation, logits, the full `fit`.

`batch_indices` is the only way a pass over a split is cut into batches and `run_epoch` the
only loop that takes optimiser steps over them: `train_epoch` (cross-entropy, the models'
training) and loops.loss_epoch (a method's own loss) are it with a loss, and a method whose
step is more than one batch (NegGrad's retain/forget pairs, SCRUB's max and min passes) hands
it its own batches and loss as hooks. No method writes its own epoch loop.
"""
import copy

import torch
import torch.nn.functional as F

from unlearn.core import compute
from unlearn.core.metrics import accuracy
from unlearn.core.progress import inner_bar
from unlearn.training.optim import fused_options, make_optimizer
from unlearn.training.augment import augment as apply_augment
from unlearn.data.splits import to_float


def batch_indices(n, batch_size, generator=None, shuffle=True):
    """Index tensors covering range(n) once, shuffled with `generator` when asked.

    A trailing batch of one example joins the batch before it: BatchNorm in train mode
    cannot normalise a single example once ResNet's last stage is 1×1 (small images).
    """
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def paired_batches(n_retain, n_forget, batch_size, generator, forget_batch_size=None,
                   batcher=None):
    """One pass over retain, each retain batch paired with the next forget batch.

    The forget iterator restarts (reshuffled) when exhausted, as in Choi & Na's
    advanced NegGrad; it is shared by neggrad, neggrad_plus and gisa. `batcher(n,
    batch_size, generator)` splits a pass into batches (default `batch_indices`).
    """
    batcher = batcher or batch_indices
    forget_bs = forget_batch_size or batch_size
    forget = iter(())
    for r in batcher(n_retain, batch_size, generator):
        f = next(forget, None)
        if f is None:
            forget = iter(batcher(n_forget, forget_bs, generator))
            f = next(forget)
        yield r, f


def paired_ces(model, retain, forget, pair, device, augment="none", generator=None):
    """(CE on the retain batch, CE on the forget batch) of one `paired_batches` item: both
    batches gathered (and augmented) first, then two forward passes, retain first."""
    retain_ce, forget_ce = paired_forwards(model, retain, forget, pair, device, augment,
                                           generator)
    return retain_ce(), forget_ce()


def paired_forwards(model, retain, forget, pair, device, augment="none", generator=None):
    """`paired_ces` with each forward pass deferred: both batches are gathered (and
    augmented) now, and two callables give the retain and the forget CE when called. A loss
    that is a sum of the two can then be backpropagated term by term (`run_epoch`), so only
    one batch's graph is alive at a time."""
    r_index, f_index = pair
    x_r, y_r = batch(retain, r_index, device, augment, generator)
    x_f, y_f = batch(forget, f_index, device, augment, generator)
    return (lambda: F.cross_entropy(model(x_r), y_r)), (lambda: F.cross_entropy(model(x_f), y_f))


def batch(split, index, device, augment="none", generator=None):
    """Float images (augmented if asked) and labels of `split[index]` on `device`.

    With the split already on `device` (runner.setup_unlearning, the train stage put it
    there once) the batch is gathered, converted and augmented there; otherwise the uint8
    rows are gathered on the host and only they are copied.
    """
    where = split.images.device
    index = index.to(where, non_blocking=True)
    images, labels = split.images[index], split.labels[index]
    if where != torch.device(device):
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
    return apply_augment(to_float(images), augment, generator), labels


def sgd(params, **kwargs):
    """torch.optim.SGD with this block's optimiser options (fused or not)."""
    return torch.optim.SGD(params, **kwargs, **fused_options())


def adam(params, **kwargs):
    """torch.optim.Adam with this block's optimiser options (fused or not)."""
    return torch.optim.Adam(params, **kwargs, **fused_options())


def run_epoch(model, optimizer, batches, step_loss, *, before_step=None, after_step=None,
              max_steps=None, desc=None, train=True):
    """The epoch loop: for each item of `batches` (an index tensor from `batch_indices`, or
    whatever a method pairs, e.g. (retain, forget) indices), `step_loss(item)` gives the loss
    and one optimiser step follows. `step_loss` may instead give the loss as terms, one at a
    time (a generator): each is backpropagated before the next is computed, so only one
    term's graph is alive, and the step follows the gradient of their sum. In train mode;
    `before_step()` runs between backward and step (gradient masks, scaling),
    `after_step()` after it (restoring frozen weights, a per-step scheduler). Stops after
    `max_steps` steps when given; returns the steps taken. `train=False` runs the pass
    with the model in eval mode (BatchNorm frozen)."""
    model.train(train)
    if desc is not None:
        batches = inner_bar(batches, desc)
    steps = 0
    for item in batches:
        if max_steps is not None and steps >= max_steps:
            break
        optimizer.zero_grad(set_to_none=True)
        loss = step_loss(item)
        for term in (loss,) if torch.is_tensor(loss) else loss:
            term.backward()   # gradients add up in .grad
        if before_step is not None:
            before_step()
        optimizer.step()
        if after_step is not None:
            after_step()
        steps += 1
    return steps


def train_epoch(model, split, optimizer, *, batch_size, generator, device, augment="none",
                desc="train", step_scheduler=None):
    """One epoch of cross-entropy on `split`; returns mean loss and accuracy."""
    # Running sums stay on the device (no host sync per step). The loss sum is float64,
    # added in the same order as Python floats were before: the same bytes on the CPU.
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0

    def step_loss(index):
        nonlocal total_loss, correct, seen
        x, y = batch(split, index, device, augment, generator)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        total_loss += loss.detach().double() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        return loss

    run_epoch(model, optimizer, batch_indices(len(split), batch_size, generator), step_loss,
              after_step=step_scheduler.step if step_scheduler is not None else None, desc=desc)
    return {"loss": total_loss.item() / max(seen, 1), "acc": correct.item() / max(seen, 1)}


@torch.no_grad()
def logits_of(model, images, device, batch_size=None):
    """Eval-mode logits of uint8 images, in order: computed in fp32 whatever precision the
    model trains in (saved and scored logits, teachers' targets, best-epoch choice), on
    `device`, returned as float32 on the CPU. `batch_size`: images per forward pass, an
    int or auto; None = the block's `compute.eval_batch_size` (compute.eval_batch)."""
    batch_size = compute.eval_batch(images, batch_size)
    model.eval()
    with compute.full_precision(model):
        out = [model(to_float(images[i:i + batch_size].to(device))).float()
               for i in range(0, len(images), batch_size)]
    return torch.cat(out).cpu() if out else torch.empty(0, 0)


def evaluate(model, split, device):
    return accuracy(logits_of(model, split.images, device), split.labels.cpu())


def fit(model, train, val, recipe, *, generator, device, on_epoch=None, desc="fit"):
    """Train from the given weights with `recipe`; keep the best-validation epoch if asked.

    recipe keys: optimizer, lr, weight_decay, momentum, epochs, batch_size, milestones,
    gamma, augment, select_best. `on_epoch(epoch, metrics)` receives each epoch's
    train loss/acc and val acc (for dvclive). Returns (model, history, best_epoch).
    """
    model.to(device)
    opt = make_optimizer(model.parameters(), recipe["optimizer"], recipe["lr"],
                         recipe["weight_decay"], recipe["momentum"])
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, recipe["milestones"], recipe["gamma"])
    best_acc, best_state, best_epoch, history = -1.0, None, 0, []
    for epoch in range(1, recipe["epochs"] + 1):
        metrics = train_epoch(model, train, opt, batch_size=recipe["batch_size"],
                              generator=generator, device=device, augment=recipe["augment"],
                              desc=f"{desc} epoch {epoch}/{recipe['epochs']}")
        sched.step()
        metrics["val_acc"] = evaluate(model, val, device)
        history.append(metrics)
        if on_epoch:
            on_epoch(epoch, metrics)
        if not recipe["select_best"] or metrics["val_acc"] > best_acc:
            best_acc, best_epoch = metrics["val_acc"], epoch
            best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model, history, best_epoch
