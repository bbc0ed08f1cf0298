"""bad_teacher (Chundawat et al. 2023): loss picks the right teacher, subset sizes, a
short run pulls forget outputs to the incompetent teacher, and a runner smoke run."""
import math

import pytest
import torch

import unlearn.methods.bad_teacher as bt
from method_helpers import one_thread, rand_split  # noqa: F401 (autouse fixture)
from unlearn.unlearning.distill import kl_per_example
from unlearn.core.errors import UserError
from unlearn.methods import UnlearnContext, method_config
from unlearn.training.model import build_model
from unlearn.runner import run_unlearning
from unlearn.training.train import logits_of

CPU = torch.device("cpu")


LN3 = math.log(3.0)


def test_loss_uses_incompetent_teacher_for_forget_and_competent_for_retain():
    good = torch.tensor([[LN3, 0.0], [LN3, 0.0]])        # [.75, .25]
    bad = torch.tensor([[0.0, LN3], [0.0, LN3]])         # [.25, .75]
    student = torch.tensor([[0.0, LN3], [LN3, 0.0]])     # ex 0 = bad, ex 1 = good
    is_forget = torch.tensor([True, False])
    right = bt.unlearner_loss(student, is_forget, good, bad, reduction="batchmean")
    assert right.item() == pytest.approx(0.0, abs=1e-7)
    wrong = bt.unlearner_loss(student, ~is_forget, good, bad, reduction="batchmean")
    kl = 0.75 * math.log(3) + 0.25 * math.log(1 / 3)     # KL([.75,.25] ‖ [.25,.75])
    assert wrong.item() == pytest.approx(kl, abs=1e-6)
    # the source's element mean divides by B·C as well
    mean = bt.unlearner_loss(student, ~is_forget, good, bad, reduction="mean")
    assert mean.item() == pytest.approx(kl / 2, abs=1e-6)


def test_retain_subset_size():
    assert bt.retain_subset_size(1000, 20, 3.0) == 60
    assert bt.retain_subset_size(1000, 20, 3.0, retain_fraction=0.3) == 300
    assert bt.retain_subset_size(1000, 20, 3.0, retain_fraction=0.0015) == 1   # floor
    assert bt.retain_subset_size(50, 20, 3.0) == 50                            # capped
    with pytest.raises(UserError):
        bt.retain_subset_size(1000, 20, 3.0, retain_fraction=1.5)


def calibrated_original(splits):
    """A random ResNet whose BatchNorm running stats match the data, like a trained one."""
    torch.manual_seed(0)
    model = build_model(8)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.momentum = None                      # cumulative average over the pass
    model.train()
    with torch.no_grad():
        model(torch.cat([s.images for s in splits]).float() / 255)
    for m in bns:
        m.momentum = 0.1
    return model


def test_short_run_moves_outputs_to_the_respective_teachers(monkeypatch):
    g = torch.Generator().manual_seed(1)
    forget, retain = rand_split(8, g), rand_split(40, g)
    model = calibrated_original([forget, retain])
    ctx = UnlearnContext(retain=retain, forget=forget, val=None, device=CPU, seed=0,
                         num_classes=8)
    sets, cached = [], []                       # spies: the data set and both teachers' logits
    real_set, real_cache = bt.unlearning_set, bt.cached_teacher_logits
    monkeypatch.setattr(bt, "unlearning_set", lambda c, i: sets.append(real_set(c, i)) or sets[-1])
    monkeypatch.setattr(bt, "cached_teacher_logits",
                        lambda m, im, dev: cached.append(real_cache(m, im, dev)) or cached[-1])
    cfg = method_config("bad_teacher", {"lr": 1e-4, "epochs": 4, "batch_size": 16,
                                        "weight_decay": 0.0})
    bt.bad_teacher(model, ctx, cfg)
    (data, is_forget), (good, bad) = sets[0], cached
    assert len(data) == 8 + 24 and int(is_forget.sum()) == 8        # 3 × |D_f| retain
    after = logits_of(model, data.images, CPU)
    f, r = is_forget, ~is_forget
    # Before training the student is the competent teacher: KL(bad ‖ student) = KL(bad ‖ good).
    to_bad_before = kl_per_example(good[f], bad[f]).mean()
    to_bad_after = kl_per_example(after[f], bad[f]).mean()
    assert to_bad_after < 0.75 * to_bad_before                      # forget → incompetent
    drift_f = kl_per_example(after[f], good[f]).mean()
    drift_r = kl_per_example(after[r], good[r]).mean()
    assert drift_f > 2 * drift_r                                    # forget leaves the original
    assert drift_r < 0.5 * kl_per_example(after[r], bad[r]).mean()  # retain stays with it


def test_runner_smoke():
    g = torch.Generator().manual_seed(2)
    splits = {"forget": rand_split(6, g), "retain": rand_split(30, g),
              "val": rand_split(6, g), "test": rand_split(6, g)}
    torch.manual_seed(0)
    state = build_model(8).state_dict()
    cfg = method_config("bad_teacher", {"epochs": 1, "batch_size": 8, "retain_fraction": 0.4})
    res = run_unlearning("bad_teacher", cfg, state, splits, seed=3, device=CPU, num_classes=8)
    assert res.logits["forget"].shape == (6, 8) and torch.isfinite(res.logits["test"]).all()
    assert any(not torch.equal(v, state[k]) for k, v in res.model.state_dict().items())
