"""Forget-set selection: sizes, no duplicates, seeds, whole persons, disjoint retain, errors."""
import pytest
import torch

from unlearn.core.errors import UserError
from unlearn.data.forget import select_forget

# 40 images of 10 persons (4 each), in CSV order.
PERSONS = [f"F{1 + i // 12:04d}/P{i // 4}" for i in range(40)]


def check_partition(forget, retain, n=len(PERSONS)):
    f, r = forget.tolist(), retain.tolist()
    assert len(set(f)) == len(f) and f == sorted(f) and r == sorted(r)
    assert not set(f) & set(r) and sorted(f + r) == list(range(n))


def test_random_count_and_seed():
    forget, retain = select_forget(PERSONS, "random", count=7, seed=3)
    check_partition(forget, retain)
    assert len(forget) == 7
    assert torch.equal(select_forget(PERSONS, "random", count=7, seed=3)[0], forget)
    assert not torch.equal(select_forget(PERSONS, "random", count=7, seed=4)[0], forget)


def test_random_fraction_rounds_to_images():
    forget, retain = select_forget(PERSONS, "random", fraction=0.26, seed=0)
    check_partition(forget, retain)
    assert len(forget) == 10                      # round(0.26 * 40)


def test_first_rows():
    forget, retain = select_forget(PERSONS, "first", count=5)
    check_partition(forget, retain)
    assert forget.tolist() == [0, 1, 2, 3, 4]


def test_identity_whole_persons():
    forget, retain = select_forget(PERSONS, "identity", count=3, seed=1)
    check_partition(forget, retain)
    gone = {PERSONS[i] for i in forget.tolist()}
    assert len(gone) == 3 and len(forget) == 12
    assert not gone & {PERSONS[i] for i in retain.tolist()}
    assert torch.equal(select_forget(PERSONS, "identity", count=3, seed=1)[0], forget)


@pytest.mark.parametrize("kwargs, text", [
    ({"mode": "random", "count": 41}, "prepare.forget.count: forget size 41 exceeds the 40 train images"),
    ({"mode": "first", "count": 40}, "leaves the retain set empty"),
    ({"mode": "random", "fraction": 0.001}, "prepare.forget.fraction: the forget set would be empty"),
    ({"mode": "random", "count": 0}, "prepare.forget.count: must be ≥ 1, got 0"),
    ({"mode": "random", "count": 3, "fraction": 0.1}, "set exactly one of count and fraction"),
    ({"mode": "random"}, "set exactly one of count and fraction"),
    ({"mode": "first", "fraction": 0.1}, "prepare.forget.fraction: only for random mode"),
    ({"mode": "identity"}, "prepare.forget.count: required for identity mode"),
    ({"mode": "identity", "count": 10}, "leaves the retain set empty"),
    ({"mode": "identity", "count": 11}, "exceeds the 10 train persons"),
    ({"mode": "classwise", "count": 3}, "prepare.forget.mode: must be one of 'random', 'first', 'identity', got 'classwise'"),
    ({"mode": "random", "fraction": 1.0}, "prepare.forget.fraction: must be in \\(0, 1\\), got 1.0"),
])
def test_errors(kwargs, text):
    with pytest.raises(UserError, match=text):
        select_forget(PERSONS, **kwargs)
