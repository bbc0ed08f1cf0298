"""`reinit_finetune`: re-initialise the least forget-relevant conv weights, then fine-tune
(Kookmin Univ. team, NeurIPS 2023 unlearning competition, private leaderboard #3).

Source: the team's solution as ported by the Deep Unlearn benchmark,
https://github.com/xcadet/deepunlearn, munl/unlearning/kgltop2.py (commit
6830ff6e5fd72f4793890ee31904814892625acf): `get_grads_for_snip`,
`re_init_model_snip_ver2_little_grad`, `MaskConv2d`, `LinearAnnealingLR`.
1. g = ∇ of Σ_batches CE over a random subset of |D_f| retain images, plus
   Σ_batches (−CE) over D_f (batches of 64; the model in train mode, as the source
   leaves it, so BatchNorm uses batch statistics and updates its running statistics).
2. In every Conv2d, the k = round(0.3·n) weights with the smallest |g| (per layer) are
   re-initialised: their values are taken from a fresh kaiming_normal_(fan_out, relu)
   tensor; the other weights keep theirs.
3. Fine-tune on D_r with CE: SGD lr 1e-3, momentum 0.9, wd 5e-4, batch 64, and the
   gradients of the kept conv weights scaled by 0.1 at every step (the re-initialised
   ones and all other parameters at full rate). The learning rate follows the source's
   per-epoch linear warm-up then linear decay: with A = ⌊(E+1)/2⌋ and T = E + 1, epoch
   e = 1 … E runs at lr·e/A for e ≤ A and lr·(T − e)/(T − A) after (E = 5: ⅓, ⅔, 1, ⅔, ⅓).

Defaults: theirs (fraction 0.3, gradient scale 0.1, lr 1e-3, ...) except the epochs:
theirs are 5; 2 here (÷2.5; lr factors 1, ½) to keep a run near the cost of the study's
other gradient methods on this project's CPU budget (bench/methods.py gives the measured
ratio to finetune).

Choices: exactly k weights per layer, ties at the threshold broken by position
(unlearn/unlearning/masks.py; the source's topk leaves them unspecified). The fresh weights are
drawn from ctx.generator on the CPU. Batches: near-equal sizes (unlearn/training/loops.py).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearn.core import compute
from unlearn.core.checks import at_least, fraction, non_negative
from unlearn.core.config import config, inherit, param
from unlearn.methods import register
from unlearn.training.loops import SGDConfig, cross_entropy, loss_epoch, set_lr
from unlearn.training.train import batch, batch_indices, sgd
from unlearn.unlearning.masks import top_k_mask


def conv_layers(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def forget_retain_gradients(model, ctx, batch_size):
    """{conv name: ∇ of Σ CE(retain subset batches) − Σ CE(forget batches)} (train mode)."""
    subset = torch.randperm(len(ctx.retain), generator=ctx.generator)[:len(ctx.forget)]
    convs = conv_layers(model)
    weights = [m.weight for _, m in convs]
    total = [torch.zeros_like(w) for w in weights]
    model.train()
    with compute.full_precision(model):  # a selection, like importances: in fp32
        for split, sign in ((ctx.retain.subset(subset), 1.0), (ctx.forget, -1.0)):
            for index in batch_indices(len(split), batch_size, ctx.generator):
                x, y = batch(split, index, ctx.device)
                grads = torch.autograd.grad(sign * F.cross_entropy(model(x), y), weights)
                for t, g in zip(total, grads):
                    t += g
    return {name: t for (name, _), t in zip(convs, total)}


def smallest_gradient_masks(grads, share):
    """{conv name: bool mask of the round(share·n) elements with the smallest |g|}."""
    return {name: top_k_mask(g.abs(), round(share * g.numel()), largest=False)
            for name, g in grads.items()}


@torch.no_grad()
def reinit_masked(model, masks, generator):
    """Replace the masked weights of each conv by a fresh kaiming_normal_(fan_out, relu)."""
    for name, m in conv_layers(model):
        fresh = torch.empty(m.weight.shape)
        nn.init.kaiming_normal_(fresh, mode="fan_out", nonlinearity="relu", generator=generator)
        fresh = fresh.to(device=m.weight.device, dtype=m.weight.dtype)
        m.weight.copy_(torch.where(masks[name], fresh, m.weight))


def warmup_decay_factor(epoch, epochs):
    """The source's LinearAnnealingLR factor for a 1-based epoch."""
    warm, total = (epochs + 1) // 2, epochs + 1
    if epoch <= warm:
        return epoch / warm
    return (total - epoch) / (total - warm)


@config
class ReinitFinetuneConfig(SGDConfig):
    # momentum 0.9, weight decay 5e-4: theirs
    lr: float = inherit(1e-3, "peak SGD learning rate of the per-epoch linear warm-up/decay; "
                        "theirs 1e-3")
    epochs: int = inherit(2, "passes over D_r; theirs 5 (÷2.5; lr factors 1, ½)")
    batch_size: int = inherit(64, "images per fine-tuning step; theirs 64")
    reinit_fraction: float = param(0.3, "share of each conv layer's weights (smallest |g|) "
                                   "re-initialised; theirs 0.3", fraction)
    grad_scale: float = param(0.1, "gradient factor of the kept conv weights; theirs 0.1",
                              non_negative)
    grad_batch_size: int = param(64, "images per batch of the gradient pass that picks the "
                                 "weights; theirs 64", at_least(1))


@register("reinit_finetune", ReinitFinetuneConfig)
def reinit_finetune(model, ctx, cfg):
    masks = smallest_gradient_masks(forget_retain_gradients(model, ctx, cfg.grad_batch_size),
                                    cfg.reinit_fraction)
    reinit_masked(model, masks, ctx.generator)
    scales = [(m.weight, torch.where(masks[name], 1.0, cfg.grad_scale).to(m.weight.dtype))
              for name, m in conv_layers(model)]

    @torch.no_grad()
    def scale_kept_gradients():
        for w, scale in scales:
            if w.grad is not None:
                w.grad.mul_(scale)

    opt = sgd(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
              weight_decay=cfg.weight_decay)
    for epoch in range(1, cfg.epochs + 1):
        set_lr(opt, cfg.lr * warmup_decay_factor(epoch, cfg.epochs))
        loss_epoch(model, ctx.retain, opt, cross_entropy, batch_size=cfg.batch_size,
                   generator=ctx.generator, device=ctx.device,
                   before_step=scale_kept_gradients)
    return model
