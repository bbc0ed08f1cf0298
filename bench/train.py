"""Training and inference images/s of the project's loop vs a notebook-style baseline.

The baseline is what the MUFAC notebooks do: a torch Dataset that opens each JPEG with
PIL and applies torchvision transforms (Choi & Na's train transform: Resize,
RandomHorizontalFlip, RandomAffine(0, shear=10, scale=(0.8, 1.2)), ColorJitter(0.2, 0.2,
0.2), ToTensor) inside a DataLoader (batch 64, shuffle, num_workers 0), fp32, NCHW,
torch.optim.Adam. The project decodes the images once (the prepare stage) and trains on
uint8 tensors in memory with `unlearn.training.train.train_epoch`, the same augmentations batched
on tensors (augment: choi_na) and its fused optimiser; its fast-path variants
(unlearn/core/compute.py, each applied with compute.apply_to_process as a stage applies
it) are timed on the same images in the same process, so the ratios hold even on a noisy
shared machine. On CUDA the images sit on the GPU (as the stages put them) except in the
"data on host" row, the input path of before: batches gathered, converted and augmented on
the CPU and copied each step.

    python bench/train.py                      # 16, 32 and 128 px on the current device
    python bench/train.py --sizes 128 --images 256 --compile
    python bench/train.py --sizes 128 --images 4096 --epochs 3 --repeat 2 --device cuda
"""
import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from unlearn.core import compute  # noqa: E402
from unlearn.data.splits import Split  # noqa: E402
from unlearn.training.model import build_model, pick_device  # noqa: E402
from unlearn.training.train import logits_of, make_optimizer, train_epoch  # noqa: E402

BATCH = 64


class NotebookDataset(Dataset):
    def __init__(self, files, labels, size, train):
        augment = [transforms.RandomHorizontalFlip(),
                   transforms.RandomAffine(0, shear=10, scale=(0.8, 1.2)),
                   transforms.ColorJitter(0.2, 0.2, 0.2)]
        steps = [transforms.Resize(size)] + (augment if train else [])
        self.files, self.labels = files, labels
        self.transform = transforms.Compose(steps + [transforms.ToTensor()])

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return self.transform(Image.open(self.files[i]).convert("RGB")), self.labels[i]


def make_jpegs(n, folder):
    """n JPEGs of 128 px from the project's synthetic generator (no download)."""
    from unlearn.data.synthetic import generate
    per_family = 4.5 * 5.5  # generator defaults below: ~25 photos a family
    cfg = {"seed": 0, "out": str(folder), "families": {"train": int(n / per_family) + 2, "val": 1, "test": 1},
           "persons_per_family": [3, 6], "photos_per_person": [3, 8], "label_noise": 0.0}
    root = Path(folder) / "custom_korean_family_dataset_resolution_128"
    generate(root, cfg, progress=False)
    files = sorted((root / "train_images").glob("*.jpg"))[:n]
    return files, [hash(f.name) % 8 for f in files]


def timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def notebook(files, labels, size, device, epochs):
    model = build_model(8).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    train = DataLoader(NotebookDataset(files, labels, size, True), batch_size=BATCH, shuffle=True)
    test = DataLoader(NotebookDataset(files, labels, size, False), batch_size=BATCH)

    def fit():
        model.train()
        for _ in range(epochs):
            for x, y in train:
                x, y = x.to(device), torch.as_tensor(y).to(device)
                loss = torch.nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()

    @torch.no_grad()
    def infer():
        model.eval()
        for x, _ in test:
            model(x.to(device))
    x, y = next(iter(train))  # warm-up step, as the project path gets
    torch.nn.functional.cross_entropy(model(x.to(device)), torch.as_tensor(y).to(device)).backward()
    opt.zero_grad()
    return epochs * len(files) / timed(fit, device), len(files) / timed(infer, device)


def project(split, device, epochs, settings, on_device=True):
    cfg = compute.resolve({**settings}, device)
    compute.apply_to_process(cfg, device)
    split = split.to(device) if on_device else split
    model = compute.prepare_model(build_model(8).to(device), cfg)
    with compute.scope(cfg, device):
        opt = make_optimizer(model.parameters(), "adam", 5e-4)
    g = torch.Generator().manual_seed(0)

    def fit():
        with compute.scope(cfg, device):
            for _ in range(epochs):
                train_epoch(model, split, opt, batch_size=BATCH, generator=g, device=device,
                            augment="choi_na")

    def infer():
        with compute.scope(cfg, device):
            logits_of(model, split.images, device, batch_size=cfg["eval_batch_size"])
    with compute.scope(cfg, device):  # warm-up: first-call allocations, compilation
        train_epoch(model, split.subset(range(min(len(split), 2 * BATCH))), opt,
                    batch_size=BATCH, generator=g, device=device)
    return epochs * len(split) / timed(fit, device), len(split) / timed(infer, device)


def decode(files, labels, size):
    images = torch.stack([transforms.functional.pil_to_tensor(
        Image.open(f).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)) for f in files])
    return Split(images, torch.tensor(labels), [f.name for f in files], ["p"] * len(files))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 128])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time the project's variants this many times, interleaved, "
                             "to show the spread between identical runs")
    args = parser.parse_args()
    device = pick_device(args.device)
    torch.set_num_threads(args.threads)
    fast = {"precision": "bf16", "channels_last": True}
    variants = {"fp32": {"precision": "fp32", "channels_last": False},
                "channels_last": {"precision": "fp32", "channels_last": True},
                "bf16": {"precision": "bf16", "channels_last": False},
                "bf16 + channels_last": fast}
    if device.type == "cuda":  # deterministic (the default) unless a row says otherwise
        variants = {"fp32": variants["fp32"],
                    "bf16 + channels_last, data on host": {**fast, "on_device": False},
                    "bf16 + channels_last (the default)": fast,
                    "+ nondeterministic, cudnn.benchmark": {**fast, "deterministic": False,
                                                            "cudnn_benchmark": True}}
    if args.compile:
        variants["bf16 + channels_last + compile"] = {**fast, "compile": True}
    with tempfile.TemporaryDirectory() as tmp:
        files, labels = make_jpegs(args.images, tmp)
        print(f"device {device}, {args.threads} threads, {len(files)} images, batch {BATCH}, "
              f"{args.epochs} epoch(s); images/s (higher is better), ratio to the notebook; "
              "inference = logits_of, fp32 in every row")
        print("| px | path | train img/s | × | inference img/s | × |\n|---|---|---|---|---|---|")
        for size in args.sizes:
            base_train, base_infer = notebook(files, labels, size, device, args.epochs)
            print(f"| {size} | notebook (PIL + DataLoader, fp32) | {base_train:.0f} | 1.00 | "
                  f"{base_infer:.0f} | 1.00 |", flush=True)
            split = decode(files, labels, size)
            for name, settings in list(variants.items()) * args.repeat:
                settings = dict(settings)
                on_device = settings.pop("on_device", True)
                t, i = project(split, device, args.epochs, {"threads": args.threads, **settings},
                               on_device)
                print(f"| {size} | project, {name} | {t:.0f} | {t / base_train:.2f} | {i:.0f} | "
                      f"{i / base_infer:.2f} |", flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
