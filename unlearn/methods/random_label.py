"""`random_label`: Random Labelling (RL).

Source: Golatkar, Achille & Soatto, "Eternal Sunshine of the Spotless Net", CVPR 2020,
https://arxiv.org/abs/1911.04933, in the form the SalUn code runs it:
https://github.com/OPTML-Group/Unlearn-Saliency, Classification/unlearn/RL.py (commit
a6e89fd17ff737c24c6aa16c9574469a234ffd91), its CIFAR-10 branch, inside `iterative_unlearn`
(unlearn/impl.py).
Update, each epoch:
  1. one pass over D_f with CE against labels drawn uniformly from all C classes,
     `torch.randint(0, C)` per batch (a drawn label may equal the true one);
  2. one pass over D_r with CE against the true labels;
one SGD optimiser for both (momentum 0.9, weight decay 5e-4), model in train mode.

Their setting: lr 0.01 (`--unlearn_lr`), momentum 0.9, wd 5e-4, batch 256, 10 epochs
(their MultiStepLR milestones 91, 136 never fire in 10 epochs and are left out).
Defaults here: momentum, wd, batch theirs; epochs 2 (÷5) and lr 0.001 (÷10), to fit the
project's CPU budget (bench/methods.py gives the measured cost ratio to finetune).
Why the lr too: on the default data an epoch is 4 steps (their CIFAR-10 epochs are ~200),
and at lr 0.01 with momentum, 8 steps moved the weights faster than BatchNorm's running
statistics (momentum 0.1 per step) could follow: eval-mode accuracy fell to chance
(retain 0.17, seed 0; 0.59 once the statistics were recomputed on D_r), and 4–5 epochs
did the same (retain 0.15–0.27, seeds 0–2). Their full 10 epochs at lr 0.01 worked
(forget 0.22–0.38, retain 0.51–0.68, seeds 0–2) at ~4× finetune's cost; lr 0.001 for 2
epochs gave forget 0.30–0.48, retain 0.70–0.73 (seeds 0–2). All measured on the default
data with probe scripts. Their setting:
    unlearn:
      random_label: {lr: 0.01, epochs: 10}

Choices: `exclude_true: true` draws each forget label uniformly from the C − 1 wrong
classes instead (the textbook "random different label"); the source does not. New labels
are drawn once per epoch for the whole forget set from ctx.generator (the same
distribution as per batch). Batches: near-equal sizes (unlearn/training/loops.py says why).
"""
from unlearn.core.config import config, inherit
from unlearn.methods import register
from unlearn.training.loops import RandomLabelKeys, random_label_epoch
from unlearn.training.train import sgd


@config
class RandomLabelConfig(RandomLabelKeys):
    # momentum 0.9, weight decay 5e-4, batch 256: theirs; epochs 2: theirs 10 (÷5)
    lr: float = inherit(0.001, "SGD learning rate; theirs 0.01 (÷10: BatchNorm's running "
                        "statistics lag at 8 steps, see the docstring)")


@register("random_label", RandomLabelConfig)
def random_label(model, ctx, cfg):
    opt = sgd(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
              weight_decay=cfg.weight_decay)
    for _ in range(cfg.epochs):
        random_label_epoch(model, ctx, cfg, opt)
    return model
