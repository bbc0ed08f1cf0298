"""unlearn.unlearning.importance: per-example importances equal a loop over single examples and do
not depend on order or chunk size; the batch form differs and depends on the batches.

TinyNet, rand_split and the single_thread fixture are reused by the method tests
(tests/ is on pythonpath).
"""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearn.data.splits import Split, to_float
from unlearn.unlearning.importance import combine, importances
from unlearn.training.model import build_model

CPU = torch.device("cpu")


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """One intra-op thread for these tiny tensors, restored afterwards. With OpenMP's
    default active waiting, 2 threads on a busy 2-core machine ran them ~100× slower
    (OMP_WAIT_POLICY=PASSIVE also avoids that, but must be set before torch loads)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TinyNet(nn.Module):
    """Conv (64 positions: materialised path) → BN → in-place ReLU → strided convs (16 and
    4 positions: both paths) → in-place residual add → linear (1 position)."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 5, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(5, 6, 3, stride=2, padding=1)
        self.bn3 = nn.BatchNorm2d(6)
        self.skip = nn.Conv2d(5, 6, 1, stride=2, bias=False)
        self.fc = nn.Linear(6, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.conv2(x))
        out = self.bn3(self.conv3(x))
        out += self.skip(x)
        return self.fc(self.relu(out).mean((2, 3)))


def calibrate(model, images):
    """Give BatchNorm non-trivial running statistics, as a trained model has."""
    model.train()
    with torch.no_grad():
        model(to_float(images).to(next(model.parameters()).dtype))
    model.eval()
    return model


def tiny_model(seed=0, classes=4, dtype=torch.float32, px=8):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 100)
    model = TinyNet(classes).to(dtype)
    return calibrate(model, torch.randint(0, 256, (32, 3, px, px), dtype=torch.uint8, generator=g))


def rand_split(n, g, px=8, classes=4):
    return Split(torch.randint(0, 256, (n, 3, px, px), dtype=torch.uint8, generator=g),
                 torch.randint(0, classes, (n,), generator=g),
                 [f"i{i}" for i in range(n)], ["p"] * n)


def loop_importances(model, split):
    """Reference: mean over single examples of the squared CE gradient, eval mode."""
    model.eval()
    params = dict(model.named_parameters())
    acc = {k: torch.zeros_like(p) for k, p in params.items()}
    dtype = next(model.parameters()).dtype
    for i in range(len(split)):
        x = to_float(split.images[i:i + 1]).to(dtype)
        grads = torch.autograd.grad(F.cross_entropy(model(x), split.labels[i:i + 1]),
                                    list(params.values()))
        for k, gr in zip(params, grads):
            acc[k] += gr.square()
    return {k: v / len(split) for k, v in acc.items()}


def max_rel_diff(a, b):
    """Largest difference relative to each tensor's scale, over all tensors."""
    return max(((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-30)).item() for k in b)


def test_per_example_equals_single_example_loop_float64():
    model = tiny_model(dtype=torch.float64)
    split = rand_split(13, torch.Generator().manual_seed(1))
    got = importances(model, split, CPU, chunk_size=5)
    want = loop_importances(model, split)
    assert set(got) == set(want)
    for k in want:
        assert got[k].shape == want[k].shape
        scale = want[k].abs().max().item()
        torch.testing.assert_close(got[k], want[k], rtol=1e-10, atol=1e-14 * scale)


def test_per_example_on_resnet18_matches_loop():
    # in-place ReLU, `out += identity`, downsample branches, BN in eval mode
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (16, 3, 16, 16), dtype=torch.uint8, generator=g)
    model = calibrate(build_model(8), images)
    split = rand_split(5, g, px=16, classes=8)
    got = importances(model, split, CPU, chunk_size=3)
    assert max_rel_diff(got, loop_importances(model, split)) < 1e-5


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_per_example_independent_of_order_and_chunk_size(dtype, tol):
    model = tiny_model(dtype=dtype)
    split = rand_split(24, torch.Generator().manual_seed(3))
    ref = importances(model, split, CPU, chunk_size=24)
    perm = torch.randperm(24, generator=torch.Generator().manual_seed(4))
    for chunk in (1, 5, 7):
        assert max_rel_diff(importances(model, split, CPU, chunk_size=chunk), ref) < tol
    assert max_rel_diff(importances(model, split.subset(perm), CPU, chunk_size=5), ref) < tol


def test_batch_form_differs_and_depends_on_batch_composition():
    model = tiny_model(dtype=torch.float64)
    split = rand_split(24, torch.Generator().manual_seed(5))
    per_example = importances(model, split, CPU)

    def batch_form(seed, batch_size=8):
        return importances(model, split, CPU, form="batch", batch_size=batch_size,
                           generator=torch.Generator().manual_seed(seed))

    a, a_again, b = batch_form(0), batch_form(0), batch_form(1)
    assert max_rel_diff(a, a_again) == 0.0              # deterministic given the shuffle
    assert max_rel_diff(a, b) > 1e-3                    # other batches, other importances
    assert max_rel_diff(a, per_example) > 1e-2          # cross-terms survive the square
    # batches of one example are the per-example form
    assert max_rel_diff(batch_form(0, batch_size=1), per_example) < 1e-10


def test_combine_is_the_union():
    model = tiny_model(dtype=torch.float64)
    g = torch.Generator().manual_seed(6)
    a, b = rand_split(9, g), rand_split(4, g)
    union = importances(model, Split.concat([a, b]), CPU)
    parts = combine([(importances(model, a, CPU), 9), (importances(model, b, CPU), 4)])
    assert max_rel_diff(parts, union) < 1e-12


def test_model_left_untouched():
    model = tiny_model()
    model.train()
    before = copy.deepcopy(model.state_dict())
    split = rand_split(6, torch.Generator().manual_seed(7))
    for form in ("per_example", "batch"):
        importances(model, split, CPU, form=form, generator=torch.Generator().manual_seed(0))
        assert model.training
        assert all(p.grad is None for p in model.parameters())
        for k, v in model.state_dict().items():
            assert torch.equal(v, before[k]), k                 # incl. BN running stats
    # eval mode really is used: a train-mode forward would have moved the running stats,
    # and the per-example result would then depend on the chunk composition
    assert max_rel_diff(importances(model, split, CPU, chunk_size=1),
                        importances(model, split, CPU, chunk_size=6)) < 1e-6


def test_unsupported_layer_needs_batch_form():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GroupNorm(2, 4), nn.Flatten(), nn.LazyLinear(2))
    model(torch.zeros(1, 3, 8, 8))
    split = rand_split(4, torch.Generator().manual_seed(8), classes=2)
    with pytest.raises(ValueError, match="form='batch'"):
        importances(model, split, CPU)
    imp = importances(model, split, CPU, form="batch", generator=torch.Generator().manual_seed(0))
    assert set(imp) == {k for k, _ in model.named_parameters()}
    with pytest.raises(ValueError, match="unknown"):
        importances(model, split, CPU, form="fisher")
    shared = nn.Linear(8, 8)                      # one layer used twice: gradients would add
    tied = nn.Sequential(nn.Flatten(), nn.Linear(192, 8), shared, nn.ReLU(), shared)
    with pytest.raises(ValueError, match="used twice"):
        importances(tied, rand_split(2, torch.Generator().manual_seed(9), classes=8), CPU)
