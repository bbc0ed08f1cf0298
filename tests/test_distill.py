"""unlearn.unlearning.distill: KL direction, temperature, reductions, teacher helpers."""
import math

import pytest
import torch

from unlearn.unlearning.distill import (distill_kl, frozen_copy, kl_loss, kl_per_example, reduce_kl,
                             teacher_outputs)

LN3 = math.log(3.0)


def test_direction_is_teacher_to_student():
    # student uniform [.5, .5]; teacher [.75, .25]
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[LN3, 0.0]])
    kl_ts = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)   # KL(t‖s)
    kl_st = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)     # KL(s‖t)
    got = kl_per_example(student, teacher).item()
    assert got == pytest.approx(kl_ts, abs=1e-6)
    assert abs(got - kl_st) > 1e-3


def test_temperature_softens_both_and_t_squared():
    # At T = 2 the teacher logits [2 ln 3, 0] give [.75, .25] again.
    student = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    teacher = torch.tensor([[2 * LN3, 0.0], [2 * LN3, 0.0]])
    kl_ts = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    per = kl_per_example(student, teacher, temperature=2.0)
    assert per.tolist() == pytest.approx([kl_ts, kl_ts], abs=1e-6)
    # DistillKL: sum · T² / B
    assert distill_kl(student, teacher, 2.0).item() == pytest.approx(4 * kl_ts, abs=1e-6)
    assert kl_loss(student, teacher, 2.0).item() == pytest.approx(kl_ts, abs=1e-6)


def test_reductions_and_weights():
    per = torch.tensor([1.0, 3.0])
    assert reduce_kl(per, "batchmean").item() == pytest.approx(2.0)
    assert reduce_kl(per, "mean", num_classes=4).item() == pytest.approx(0.5)
    assert reduce_kl(per, "sum").item() == pytest.approx(4.0)
    weighted = reduce_kl(per, "batchmean", weights=torch.tensor([2.0, 0.0]))
    assert weighted.item() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        reduce_kl(per, "mean")


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_chundawat_mean_matches_torch_default():
    # Today's F.kl_div default ("mean" = Σ/(B·C)) is what Chundawat's code ran with.
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    ref = torch.nn.functional.kl_div(torch.log_softmax(s, 1), torch.softmax(t, 1))
    assert kl_loss(s, t, reduction="mean").item() == pytest.approx(ref.item(), rel=1e-5)


def test_teacher_probs_target_and_no_grad_to_teacher():
    s = torch.zeros(1, 4, requires_grad=True)
    t = torch.tensor([[1.0, 0.0, 0.0, 0.0]], requires_grad=True)
    uniform = torch.full((1, 4), 0.25)
    assert kl_per_example(s, teacher_probs=uniform).item() == pytest.approx(0.0, abs=1e-7)
    kl_loss(s, t).backward()
    assert t.grad is None and s.grad is not None
    with pytest.raises(ValueError):
        kl_per_example(s, t, teacher_probs=uniform)


def test_teacher_helpers():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    model.train()
    x = torch.randn(6, 3)
    out = teacher_outputs(model, x)
    assert not out.requires_grad and model.training          # eval inside, mode restored
    assert torch.allclose(out, model.eval()(x).detach())
    frozen = frozen_copy(model.train())
    assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert not torch.equal(frozen[0].weight, model[0].weight)  # an independent copy
