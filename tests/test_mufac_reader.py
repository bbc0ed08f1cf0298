"""The MUFAC reader on a generated tiny dataset: round trip, index column, roles, resizing."""
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from unlearn.core.errors import UserError
from unlearn.data.mufac import CLASS_LETTERS, read_mufac


def table(root, split):
    return pd.read_csv(root / f"custom_{split}_dataset.csv", index_col=0)


def test_round_trip(tiny_mufac):
    data = read_mufac(tiny_mufac, 32, progress=False)
    assert data.sources == {"train": "custom_train_dataset.csv", "val": "custom_val_dataset.csv",
                            "test": "custom_test_dataset.csv"}
    for role in ("train", "val", "test"):
        split, df = getattr(data, role), table(tiny_mufac, role)
        assert split.images.dtype == torch.uint8 and split.images.shape == (len(df), 3, 32, 32)
        assert split.ids == list(df["image_path"])                      # CSV order kept
        assert split.labels.tolist() == [CLASS_LETTERS.index(c) for c in df["age_class"]]
        assert split.persons == [f"{f}/{p}" for f, p in zip(df["family_id"], df["person_id"])]
        assert any(i.endswith(".JPG") for i in split.ids)


def test_native_size_is_not_resampled(tiny_mufac):
    data = read_mufac(tiny_mufac, 128, progress=False)
    name = data.val.ids[0]
    with Image.open(tiny_mufac / "val_images" / name) as im:
        expected = np.array(im.convert("RGB"))
    assert torch.equal(data.val.images[0], torch.from_numpy(expected).permute(2, 0, 1))


def test_csv_without_index_column_reads_the_same(tiny_mufac, tiny_mufac_copy):
    for split in ("train", "val", "test"):
        df = table(tiny_mufac_copy, split)
        df.to_csv(tiny_mufac_copy / f"custom_{split}_dataset.csv", index=False)
    a = read_mufac(tiny_mufac, 32, progress=False)
    b = read_mufac(tiny_mufac_copy, 32, progress=False, threads=1)      # plain decode, too
    for role in ("train", "val", "test"):
        x, y = getattr(a, role), getattr(b, role)
        assert torch.equal(x.images, y.images) and torch.equal(x.labels, y.labels)
        assert x.ids == y.ids and x.persons == y.persons


def test_roles_can_be_swapped(tiny_mufac):
    data = read_mufac(tiny_mufac, 32, selection_split="test", test_split="val", progress=False)
    assert data.sources["val"] == "custom_test_dataset.csv"
    assert data.sources["test"] == "custom_val_dataset.csv"
    assert data.val.ids == list(table(tiny_mufac, "test")["image_path"])


@pytest.mark.parametrize("selection, test, text", [
    ("train", "test", "data.selection_split: must be one of 'val', 'test', got 'train'"),
    ("val", "val", "data.test_split: 'val' is selection_split too; they must name different"),
    ("val", "unseen", "data.test_split: must be one of 'val', 'test', got 'unseen'"),
])
def test_bad_roles(tiny_mufac, selection, test, text):
    with pytest.raises(UserError, match=text):
        read_mufac(tiny_mufac, 32, selection_split=selection, test_split=test, progress=False)


@pytest.mark.parametrize("size", [0, 4, 32.0, True])
def test_bad_image_size(tiny_mufac, size):
    with pytest.raises(UserError, match="data.image_size"):
        read_mufac(tiny_mufac, size, progress=False)
