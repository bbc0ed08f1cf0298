"""Shared by the method tests: random uint8 splits and one torch thread per test."""
import pytest
import torch

from unlearn.data import Split


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
