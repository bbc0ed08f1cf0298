"""`bad_teacher_sim`: teachers with similarity-based sampling (docs/methods.md#bad_teacher_sim).

Source: Kaggle NeurIPS 2023 unlearning discussion 458648
(https://www.kaggle.com/competitions/neurips-2023-machine-unlearning/discussion/458648), as
the COMP540 study describes it (no code or numbers were published; every number below is
this project's choice, a key of BadTeacherSimConfig). Four changes to `bad_teacher`
(Chundawat et al. 2023):

1. Bad teacher: a randomly initialised model trained briefly on D_r with CE
   (`bad_teacher_steps` Adam steps at `bad_teacher_lr`), then frozen — a weak model
   that has never seen D_f, instead of pure noise. bad_teacher_steps: 0 gives
   Chundawat's random teacher.
2. Sampling: n = round(retain_scale × |D_f|) retain images, of which
   round(similar_fraction × n) are those most similar to the forget set (cosine
   similarity of penultimate-layer features of the original model; a retain image's
   score = its similarity to its closest forget image) and the rest drawn at random
   from the remaining retain images (ctx.generator).
3. Weights: c_j = number of forget images that have retain image j among their
   `neighbours` nearest retain images (over all of D_r); w_j = 1 + weight_scale · c_j,
   rescaled to mean 1 over the chosen subset, so the retain loss keeps bad_teacher's
   overall size and the weights only shift emphasis towards images near many forget
   images (those are where forgetting damages retained knowledge most).
4. Alternation: each step pair is a destructive step (a forget batch distilled from the
   bad teacher) followed by a reconstructive step (a retain batch distilled from the
   good teacher with the weights), each its own optimiser step. The forget batch size
   defaults to ceil(batch_size · |D_f| / n) so one epoch covers both sets once.

Loss per example: KL(p_teacher/T ‖ p_student/T) (direction as bad_teacher, see
unlearn/unlearning/distill.py); destructive = reduce(KL), reconstructive = reduce(w · KL) with the
same reduction as bad_teacher (default the source's element mean Σ/(B·C)).

Chosen values and why: retain_scale 3 (the study's bad_teacher setting, so the two rows
differ only by the sampling); similar_fraction 0.5 (half targeted repair near the forget
set, half random to keep the rest of D_r anchored); neighbours 10; weight_scale 1;
bad_teacher_steps 25 at Adam lr 1e-3, batch 64 (~1,600 images: a weak but not random
teacher; a step count keeps its cost independent of |D_r|). Optimiser as the study's
teacher methods: Adam lr 1e-4, weight decay 5e-3, 5 epochs, batch 64.
Like bad_teacher, teacher outputs are computed once (frozen teachers, no augmentation).
"""
import math
from typing import Literal

import torch
import torch.nn.functional as F

from unlearn.core.checks import at_least, in_unit_interval, non_negative, positive
from unlearn.core.config import config, inherit, param
from unlearn.core.errors import UserError
from unlearn.methods import register
from unlearn.training.optim import EpochConfig, make_optimizer, optimizer_for
from unlearn.training.train import batch, batch_indices, paired_batches, run_epoch
from unlearn.unlearning.distill import cached_teacher_logits, kl_loss
from unlearn.unlearning.features import (cosine_similarity_matrix, extract_features,
                                         most_similar, nearest_counts)


def similarity_sample(sim, n, similar_fraction, generator):
    """Choose n retain columns of sim [N_f, N_r]: the round(similar_fraction·n) most
    similar first, then random others (no repeats). Returns (index, n_similar)."""
    n_retain = sim.shape[1]
    n = min(int(n), n_retain)
    if not 0.0 <= similar_fraction <= 1.0:
        raise UserError(f"similar_fraction must be in [0, 1], got {similar_fraction!r}")
    n_sim = int(round(similar_fraction * n))
    similar = most_similar(sim, n_sim)
    rest = torch.ones(n_retain, dtype=torch.bool)
    rest[similar] = False
    rest = rest.nonzero().squeeze(1)
    others = rest[torch.randperm(len(rest), generator=generator)[:n - n_sim]]
    return torch.cat([similar, others]), n_sim


def similarity_weights(sim, index, neighbours, weight_scale):
    """w_j = 1 + weight_scale · c_j for the chosen retain images, rescaled to mean 1."""
    counts = nearest_counts(sim, neighbours)[index].float()
    w = 1.0 + weight_scale * counts
    return w / w.mean() if len(w) else w


def train_bad_teacher(model, ctx, steps, lr, batch_size):
    """Brief CE training of a fresh model on D_r (cycling through shuffled epochs)."""
    if steps <= 0:
        return model
    opt = make_optimizer(model.parameters(), "adam", lr)

    def step_loss(index):
        x, y = batch(ctx.retain, index, ctx.device)
        return F.cross_entropy(model(x), y)

    done = 0
    while done < steps:
        done += run_epoch(model, opt, batch_indices(len(ctx.retain), batch_size, ctx.generator),
                          step_loss, max_steps=steps - done)
    return model


@config
class BadTeacherSimConfig(EpochConfig):
    # no published numbers: every value is this project's choice (see the docstring)
    optimizer: Literal["adam", "sgd"] = inherit(
        "adam", "adam or sgd; with lr 1e-4 and weight_decay 5e-3 the study's teacher-method "
        "optimiser")
    epochs: int = inherit(5, "passes over the retain subset (the study's teacher-method "
                          "budget, 5)")
    batch_size: int = inherit(64, "retain images per step pair")
    retain_scale: float = param(3.0, "retain subset = round(retain_scale × |D_f|) images; 3 "
                                "as the study's bad_teacher, so the rows differ only by the "
                                "sampling", non_negative)
    similar_fraction: float = param(
        0.5, "share of the retain subset picked by feature similarity to D_f; half targeted "
        "repair, half random to anchor the rest", in_unit_interval)
    neighbours: int = param(10, "k nearest retain images per forget image, for the weights",
                            at_least(1))
    weight_scale: float = param(1.0, "w = 1 + weight_scale × count, rescaled to mean 1",
                                non_negative)
    bad_teacher_steps: int = param(25, "Adam CE steps of the fresh bad teacher on D_r (a "
                                   "weak, not random, teacher); 0 = random teacher",
                                   at_least(0))
    bad_teacher_lr: float = param(1e-3, "the bad teacher's Adam lr", positive)
    bad_teacher_batch_size: int = param(64, "the bad teacher's batch size", at_least(1))
    temperature: float = param(1.0, "T, softening of teacher and student outputs", positive)
    forget_batch_size: int | None = param(
        None, "forget images per step pair; null = ceil(batch_size × |D_f| / retain subset)",
        at_least(1))
    reduction: Literal["mean", "batchmean"] = param(
        "mean", "as bad_teacher: mean = Σ KL / (B·C), batchmean = Σ KL / B")


@register("bad_teacher_sim", BadTeacherSimConfig)
def bad_teacher_sim(model, ctx, cfg):
    # Similarity in the original model's feature space (the student still holds it).
    sim = cosine_similarity_matrix(extract_features(model, ctx.forget.images, ctx.device),
                                   extract_features(model, ctx.retain.images, ctx.device))
    n = min(int(round(cfg.retain_scale * len(ctx.forget))), len(ctx.retain))
    if n < 1:
        raise UserError("bad_teacher_sim: retain_scale × |D_f| gives no retain image; the "
                        "reconstructive steps (one per retain batch) need at least one")
    index, _ = similarity_sample(sim, n, cfg.similar_fraction, ctx.generator)
    weights = similarity_weights(sim, index, cfg.neighbours, cfg.weight_scale)
    weights = weights.to(ctx.device)
    retain = ctx.retain.subset(index)

    # Teacher outputs once: good teacher (= the original) on the retain subset, the
    # briefly trained bad teacher on D_f.
    good_logits = cached_teacher_logits(model, retain.images, ctx.device)
    bad = train_bad_teacher(ctx.fresh_model(), ctx, cfg.bad_teacher_steps,
                            cfg.bad_teacher_lr, cfg.bad_teacher_batch_size)
    bad_logits = cached_teacher_logits(bad, ctx.forget.images, ctx.device)
    del bad

    forget_bs = cfg.forget_batch_size or max(
        1, math.ceil(cfg.batch_size * len(ctx.forget) / max(len(retain), 1)))
    opt = optimizer_for(model.parameters(), cfg)
    T, red = cfg.temperature, cfg.reduction

    def step_loss(item):
        # Images are indexed on the CPU, cached outputs on the device.
        kind, index = item
        on = index.to(ctx.device)
        if kind == "forget":
            return destructive_loss(model, batch(ctx.forget, index, ctx.device)[0],
                                    bad_logits[on], T, red)
        return reconstructive_loss(model, batch(retain, index, ctx.device)[0],
                                   good_logits[on], weights[on], T, red)

    for _ in range(cfg.epochs):
        pairs = paired_batches(len(retain), len(ctx.forget), cfg.batch_size, ctx.generator,
                               forget_batch_size=forget_bs)
        # two optimiser steps per pair: the forget batch's, then the retain batch's
        run_epoch(model, opt, (step for r, f in pairs for step in (("forget", f), ("retain", r))),
                  step_loss)
    return model


def destructive_loss(model, x, bad_logits, temperature, reduction):
    """The loss of the step pulling a forget batch towards the bad teacher."""
    return kl_loss(model(x), bad_logits, temperature, reduction=reduction)


def reconstructive_loss(model, x, good_logits, weights, temperature, reduction):
    """The loss of the step pulling a retain batch towards the good teacher, weighted."""
    return kl_loss(model(x), good_logits, temperature, reduction=reduction, weights=weights)
