"""Prepared data: every split decoded once into uint8 tensors, kept in memory.

On disk a prepared split is one `.pt` file holding a plain dict (loadable with
`torch.load(weights_only=True)`):
    images  uint8  [N, 3, H, W]
    labels  int64  [N]        age class 0..7
    ids     list[str]         the CSV's image_path (bare file name)
    persons list[str]         "<family_id>/<person_id>", for identity-level forgetting
The prepared folder holds forget.pt, retain.pt, val.pt (model selection), test.pt
(reported held-out accuracy), info.json and manifest.csv.
"""
from dataclasses import dataclass
from pathlib import Path

import torch

from unlearn.core.atomic import torch_save
from unlearn.core.errors import UserError

SPLIT_NAMES = ("forget", "retain", "val", "test")
# The splits every trained or unlearned model is evaluated on (logits kept per run).
EVAL_SPLITS = ("forget", "retain", "test", "val")


@dataclass
class Split:
    images: torch.Tensor
    labels: torch.Tensor
    ids: list
    persons: list

    def __post_init__(self):
        n = len(self.labels)
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or len(self.images) != n:
            raise ValueError(f"images must be uint8 [N,3,H,W] with N={n}, got "
                             f"{self.images.dtype} {tuple(self.images.shape)}")
        if len(self.ids) != n or len(self.persons) != n:
            raise ValueError(f"ids/persons must have {n} entries")

    def __len__(self):
        return len(self.labels)

    def subset(self, index):
        index = torch.as_tensor(index, dtype=torch.long)
        pick = index.tolist()
        on = index.to(self.images.device)
        return Split(self.images[on], self.labels[on],
                     [self.ids[i] for i in pick], [self.persons[i] for i in pick])

    def rows(self, start, stop):
        """Rows start..stop as a view: the images are not copied."""
        return Split(self.images[start:stop], self.labels[start:stop],
                     self.ids[start:stop], self.persons[start:stop])

    @staticmethod
    def concat(parts):
        return Split(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]),
                     sum((p.ids for p in parts), []), sum((p.persons for p in parts), []))

    def to(self, device):
        """The same split with images and labels on `device` (kept there for a whole run,
        so batches are gathered, converted and augmented where the model is)."""
        return Split(self.images.to(device), self.labels.to(device), self.ids, self.persons)

    def to_dict(self):
        return {"images": self.images, "labels": self.labels,
                "ids": list(self.ids), "persons": list(self.persons)}


def save_split(split, path):
    torch_save(split.to("cpu").to_dict(), path)


def load_split(path):
    """A prepared split, its images memory-mapped from the file: processes that load the
    same split (the workers of a stage) share one copy in the page cache instead of each
    holding its own (0.65 GB at MUFAC's size), and pages are read as batches touch them."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: prepared split not found (run the prepare stage)")
    try:
        d = torch.load(path, weights_only=True, mmap=True)
        return Split(d["images"], d["labels"], d["ids"], d["persons"])
    except (KeyError, ValueError, RuntimeError, EOFError) as e:
        raise UserError(f"{path}: not a valid prepared split ({e})") from None


def load_labels(folder, names=SPLIT_NAMES):
    """Only the labels of prepared splits: the files are memory-mapped, so the images are
    not read (a process that hands the runs to workers needs no pixels)."""
    out = {}
    for name in names:
        path = Path(folder) / f"{name}.pt"
        if not path.is_file():
            raise UserError(f"{path}: prepared split not found (run the prepare stage)")
        try:
            out[name] = torch.load(path, weights_only=True, mmap=True)["labels"].clone()
        except (KeyError, RuntimeError, EOFError) as e:
            raise UserError(f"{path}: not a valid prepared split ({e})") from None
    return out


def load_prepared(folder, names=SPLIT_NAMES):
    return {name: load_split(Path(folder) / f"{name}.pt") for name in names}


def to_float(images):
    """uint8 [N,3,H,W] → float in [0, 1]. No mean/std normalisation (Choi & Na use none)."""
    return images.float().div_(255.0)


def read_num_classes(folder):
    """Number of classes the prepare stage recorded in <folder>/info.json."""
    import json
    path = Path(folder) / "info.json"
    try:
        return int(json.loads(path.read_text())["num_classes"])
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run the prepare stage)") from None
    except (KeyError, ValueError, TypeError) as e:
        raise UserError(f"{path}: no valid num_classes ({e})") from None
