"""`salun`: Saliency Unlearning (SalUn).

Source: Fan, Liu, Zhang, Wei, Wong & Liu, "SalUn: Empowering Machine Unlearning via
Gradient-based Weight Saliency", ICLR 2024, https://arxiv.org/abs/2310.12508;
https://github.com/OPTML-Group/Unlearn-Saliency (commit
a6e89fd17ff737c24c6aa16c9574469a234ffd91): Classification/generate_mask.py
(`save_gradient_ratio`) and Classification/unlearn/RL.py.
1. Saliency mask. Model in eval mode; g = Σ over the forget batches of ∇θ(−CE(batch));
   one GLOBAL threshold over |g| of every parameter (conv, BatchNorm, fc, biases): the
   top `mask_fraction` (their 0.5) of all elements get mask 1, the rest 0.
2. Random-label unlearning (methods/random_label.py; `loops.random_label_epoch`) with,
   at every step, grad ← grad ⊙ mask before the optimiser step, and after it the
   weights outside the mask restored to their original values and their momentum
   buffer entries zeroed
   (`_restore_masked_params`, the authors' 2026 fix: SGD's weight decay and momentum
   otherwise moved "frozen" weights). So every weight outside the mask ends the run
   bit-identical to the original, and its momentum is 0.

Their setting: mask_fraction 0.5, lr 0.013 (their CIFAR-10 ResNet-18 example), 10
epochs, else as random_label (momentum 0.9, wd 5e-4, batch 256). Defaults here: epochs 2
(÷5) and lr 0.0013 (÷10), for the reasons random_label's docstring gives (at their lr,
eval-mode accuracy collapsed to chance on the default data: retain 0.17 after 2 epochs
(seed 0), 0.19–0.29 after 5 (seeds 0–2); at lr 0.0013 for 2 epochs, retain 0.59–0.66,
forget 0.28–0.40 (seeds 0–2); measured with probe scripts). Their setting:
    unlearn:
      salun: {lr: 0.013, epochs: 10}

Choices: the forget batches for the mask are taken in dataset order, not shuffled: the
sum of batch-mean gradients depends on the batching only through a short last batch,
and |g| is only ranked. Exactly k = ⌊N·mask_fraction⌋ elements are kept, ties at the
threshold broken by position (unlearn/unlearning/masks.py) — the source's argsort leaves their
order unspecified. BatchNorm running statistics are buffers, not weights: they are
updated in train mode as in the source.
"""
import torch
import torch.nn.functional as F

from unlearn.core import compute
from unlearn.core.checks import fraction
from unlearn.core.config import config, inherit, param
from unlearn.methods import register
from unlearn.training.loops import RandomLabelKeys, random_label_epoch
from unlearn.training.train import batch, sgd
from unlearn.unlearning.masks import split_flat, top_k_mask


def saliency_mask(model, split, device, batch_size, keep_fraction):
    """{name: bool mask} over the trainable parameters: the top `keep_fraction` of all
    elements by |Σ_batches ∇(−CE)| on `split`, model in eval mode (mode restored)."""
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    total = {n: torch.zeros_like(p) for n, p in params}
    was_training = model.training
    model.eval()
    try:
        with compute.full_precision(model):  # a selection, like importances: in fp32
            for start in range(0, len(split), batch_size):
                index = torch.arange(start, min(start + batch_size, len(split)))
                x, y = batch(split, index, device)
                grads = torch.autograd.grad(-F.cross_entropy(model(x), y),
                                            [p for _, p in params])
                for (n, _), g in zip(params, grads):
                    total[n] += g
    finally:
        model.train(was_training)
    flat = torch.cat([t.abs().flatten() for t in total.values()])
    return split_flat(top_k_mask(flat, int(flat.numel() * keep_fraction)), total)


class MaskedUpdate:
    """The hooks that keep the weights outside the mask frozen, momentum included."""

    def __init__(self, model, mask, optimizer):
        self.params = [(p, mask[n]) for n, p in model.named_parameters() if n in mask]
        self.original = [p.detach().clone() for p, _ in self.params]
        self.optimizer = optimizer

    @torch.no_grad()
    def before_step(self):
        for p, m in self.params:
            if p.grad is not None:
                p.grad.mul_(m)

    @torch.no_grad()
    def after_step(self):
        for (p, m), p0 in zip(self.params, self.original):
            p.copy_(torch.where(m, p, p0))
            buf = self.optimizer.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                buf.mul_(m)


@config
class SalunConfig(RandomLabelKeys):
    # momentum 0.9, weight decay 5e-4, batch 256: theirs; epochs 2: theirs 10 (÷5)
    lr: float = inherit(0.0013, "SGD learning rate; theirs 0.013, their CIFAR-10 ResNet-18 "
                        "example (÷10, as random_label)")
    mask_fraction: float = param(0.5, "global top share of |∇(−CE on D_f)| that may change; "
                                 "theirs 0.5", fraction)


@register("salun", SalunConfig)
def salun(model, ctx, cfg):
    mask = saliency_mask(model, ctx.forget, ctx.device, cfg.batch_size,
                         cfg.mask_fraction)
    opt = sgd(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
              weight_decay=cfg.weight_decay)
    hooks = MaskedUpdate(model, mask, opt)
    for _ in range(cfg.epochs):
        random_label_epoch(model, ctx, cfg, opt, hooks.before_step, hooks.after_step)
    return model
