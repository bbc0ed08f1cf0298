"""Shared by the method tests: random uint8 splits and one torch thread per test."""
import pytest
import torch

from unlearn.data.splits import Split


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a shared 2-core machine
    extra threads oversubscribe the cores (tens of times slower); restore afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def rand_split(n, g, px=16, classes=8):
    return Split(torch.randint(0, 256, (n, 3, px, px), dtype=torch.uint8, generator=g),
                 torch.randint(0, classes, (n,), generator=g), [f"i{i}" for i in range(n)],
                 ["p"] * n)


def make_ctx(seed=0, n_retain=32, n_forget=8, n_val=8, px=8, classes=4, data_seed=None):
    """An UnlearnContext on the CPU over random splits (data drawn from data_seed, else
    seed + 1000, so the data does not depend on the run's generator)."""
    from unlearn.methods import UnlearnContext
    g = torch.Generator().manual_seed(seed + 1000 if data_seed is None else data_seed)
    return UnlearnContext(retain=rand_split(n_retain, g, px, classes),
                          forget=rand_split(n_forget, g, px, classes),
                          val=rand_split(n_val, g, px, classes),
                          device=torch.device("cpu"), seed=seed, num_classes=classes)


def plain_sgd_step(model, loss, lr):
    """One hand-written SGD step θ ← θ − lr·∇loss (no momentum, no decay): the reference a
    method's own optimiser loop is checked against."""
    grads = torch.autograd.grad(loss, list(model.parameters()))
    with torch.no_grad():
        for p, g in zip(model.parameters(), grads):
            p -= lr * g


def assert_same_parameters(model, reference):
    """Every parameter of `model` equals the reference's, up to float noise."""
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6, msg=name)
