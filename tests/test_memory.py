"""What keeps a full-size run's memory bounded (issue 20, bench/mufac_rehearsal.py): logits
passes sized by the image size, prepared images and checkpoints memory-mapped (shared by a
stage's workers), and the training stage holding retain ∪ forget once."""
from pathlib import Path

import pytest
import torch

from unlearn.core import compute
from unlearn.core.errors import UserError
from unlearn.data.splits import Split, load_split, save_split
from unlearn.training import run as train_run
from unlearn.training.model import build_model, load_checkpoint, save_checkpoint
from unlearn.training.train import logits_of


def _split(n, size, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g),
                 torch.arange(n) % 8, [f"{i}.jpg" for i in range(n)], [f"{i}/A" for i in range(n)])


@pytest.mark.parametrize("size, expected", [(16, 1024), (45, 1024), (46, 991), (64, 512),
                                            (128, 128), (512, 8), (4096, 1)])
def test_auto_eval_batch_bounds_the_pixels_of_a_pass(size, expected):
    images = torch.empty(3, 3, size, size, dtype=torch.uint8)
    assert compute.eval_batch(images, "auto") == expected
    assert compute.eval_batch(images, 7) == 7          # an explicit size is kept


class Sizes(torch.nn.Module):
    """A model that records the batch size of each forward pass."""
    def __init__(self):
        super().__init__()
        self.seen, self.head = [], torch.nn.Linear(3, 8)

    def forward(self, x):
        self.seen.append(len(x))
        return self.head(x.mean((2, 3)))


def test_logits_passes_follow_the_scoped_setting_and_give_the_same_logits():
    images = torch.randint(0, 256, (600, 3, 128, 128), dtype=torch.uint8)
    model = Sizes()
    auto = logits_of(model, images, torch.device("cpu"))             # default: auto
    assert model.seen == [128] * 4 + [88]
    model.seen.clear()
    with compute.scope({**compute.DEFAULTS, "eval_batch_size": 100}):
        explicit = logits_of(model, images, torch.device("cpu"))
    assert model.seen == [100] * 6
    assert torch.equal(auto, explicit)


@pytest.mark.parametrize("value", [0, -3, "big", 2.5])
def test_a_bad_eval_batch_size_is_named(value):
    with pytest.raises(UserError, match=r"^compute.eval_batch_size: "):
        compute.check_compute({"eval_batch_size": value})


def _anon_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    pytest.skip("no /proc/self/status RssAnon here")


def test_a_loaded_split_is_mapped_from_its_file_not_copied(tmp_path):
    split = _split(2000, 64)                         # 24.6 MB of pixels
    save_split(split, tmp_path / "retain.pt")
    del split
    before = _anon_kb()
    loaded = load_split(tmp_path / "retain.pt")
    assert int(loaded.images.sum()) > 0             # every page read
    grown_mb = (_anon_kb() - before) / 1024
    assert grown_mb < 8, f"loading 24.6 MB of images took {grown_mb:.1f} MB of private memory"


def test_a_loaded_checkpoint_is_mapped_from_its_file_not_copied(tmp_path):
    """A stage and its workers each load the original: mapped, they share its 45 MB."""
    torch.manual_seed(0)
    model = build_model(8)
    path = tmp_path / "model.pt"
    save_checkpoint(model, path, arch="resnet18", num_classes=8)
    _, ckpt = load_checkpoint(path)
    state = ckpt["state_dict"]
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    # the weights returned are the file's pages: it is mapped while they are alive
    assert str(path) in Path("/proc/self/maps").read_text()
    del ckpt, state
    import gc
    gc.collect()
    assert str(path) not in Path("/proc/self/maps").read_text()


def test_a_checkpoint_in_torchs_legacy_format_is_still_read(tmp_path):
    model = build_model(8)
    torch.save({"arch": "resnet18", "num_classes": 8, "state_dict": model.state_dict()},
               tmp_path / "old.pt", _use_new_zipfile_serialization=False)   # not mappable
    _, ckpt = load_checkpoint(tmp_path / "old.pt")
    assert torch.equal(ckpt["state_dict"]["fc.weight"], model.state_dict()["fc.weight"])


def test_rows_is_a_view():
    split = _split(10, 8)
    view = split.rows(3, 7)
    assert view.ids == split.ids[3:7] and torch.equal(view.labels, split.labels[3:7])
    assert view.images.data_ptr() == split.images[3].data_ptr()


def test_training_on_retain_and_forget_holds_their_images_once(tmp_path, monkeypatch):
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    for i, (name, n) in enumerate({"forget": 8, "retain": 40, "val": 16, "test": 16}.items()):
        save_split(_split(n, 8, seed=i), prepared / f"{name}.pt")
    (prepared / "info.json").write_text('{"num_classes": 8}')
    seen = {}

    def fake_fit(model, train_set, val, recipe, **kwargs):
        seen["train"] = train_set.images
        return model, [], 1

    def spy_logits(model, images, device, batch_size=None):
        seen.setdefault("logits", []).append(images)
        return torch.zeros(len(images), 8)

    monkeypatch.setattr(train_run, "fit", fake_fit)
    monkeypatch.setattr(train_run, "logits_of", spy_logits)
    params = {"train": {"preset": "study", "epochs": 1}, "device": "cpu", "compute": {}}
    train_run.train_and_save(params, name="t", on="train", seed=0, prepared=prepared,
                             out_dir=tmp_path / "model", metrics=tmp_path / "metrics/t")
    start, end = seen["train"].data_ptr(), seen["train"].data_ptr() + seen["train"].nbytes
    by_split = dict(zip(train_run.EVAL_SPLITS, seen["logits"]))
    for name in ("retain", "forget"):                # views into the training tensor
        assert start <= by_split[name].data_ptr() < end, name
    assert torch.equal(torch.cat([by_split["retain"], by_split["forget"]]), seen["train"])
