"""Exploration: train K ResNet-18s as one computation (grouped convolutions) vs one by one.

K copies of ResNet-18 become one "wide" network whose every convolution has groups=K,
whose BatchNorm has K × C channels (so each model keeps its own batch statistics and
running statistics) and whose classifier is a grouped 1×1 convolution. Model k reads
input channels 3k..3k+2, so each model gets its own batch, and Adam being elementwise
makes one optimiser over the wide network exactly K optimisers. The script prints
models-per-minute for K models trained one after another vs as one grouped network,
and checks the property the pipeline would need: a model's weights after training do
not depend on which models share its batch.

    python bench/batched_models.py --size 16 --k 4 --steps 20 --threads 1
"""
import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn


def conv(k, cin, cout, kernel, stride=1, padding=0):
    return nn.Conv2d(k * cin, k * cout, kernel, stride, padding, groups=k, bias=False)


class Block(nn.Module):
    def __init__(self, k, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = conv(k, cin, cout, 3, stride, 1), nn.BatchNorm2d(k * cout)
        self.c2, self.b2 = conv(k, cout, cout, 3, 1, 1), nn.BatchNorm2d(k * cout)
        self.down = (nn.Sequential(conv(k, cin, cout, 1, stride), nn.BatchNorm2d(k * cout))
                     if stride != 1 or cin != cout else None)

    def forward(self, x):
        identity = x if self.down is None else self.down(x)
        out = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(out)) + identity)


class GroupedResNet18(nn.Module):
    """K ResNet-18s (torchvision's layout) as one network with grouped convolutions."""

    def __init__(self, k, num_classes=8):
        super().__init__()
        self.k, self.num_classes = k, num_classes
        self.stem = nn.Sequential(conv(k, 3, 64, 7, 2, 3), nn.BatchNorm2d(k * 64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        widths, blocks, cin = [64, 128, 256, 512], [], 64
        for i, w in enumerate(widths):
            blocks += [Block(k, cin, w, 1 if i == 0 else 2), Block(k, w, w, 1)]
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Conv2d(k * 512, k * num_classes, 1, groups=k)

    def forward(self, x):  # x: [B, K*3, H, W] -> logits [K, B, classes]
        x = self.blocks(self.stem(x))
        x = self.fc(F.adaptive_avg_pool2d(x, 1)).flatten(1)
        return x.view(len(x), self.k, self.num_classes).transpose(0, 1)


def train_grouped(k, data, labels, steps, batch, seeds, init_seed=0):
    torch.manual_seed(init_seed)
    model = GroupedResNet18(k)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    for _ in range(steps):
        idx = [torch.randint(0, len(data), (batch,), generator=g) for g in gens]
        x = torch.cat([data[i] for i in idx], dim=1)           # model j's batch in channels 3j..
        y = torch.stack([labels[i] for i in idx])              # [K, B]
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                               reduction="sum") / batch        # = sum of the K models' mean losses
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def model_slice(model, j):
    """Model j's parameters and buffers out of the grouped network (a channel slice each)."""
    out = {}
    for name, t in model.state_dict().items():
        if t.ndim == 0:
            continue
        n = t.shape[0] // model.k
        out[name] = t[j * n:(j + 1) * n].clone()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    data = torch.rand(512, 3, args.size, args.size, generator=g)
    labels = torch.randint(0, 8, (512,), generator=g)

    train_grouped(1, data, labels, 2, args.batch, [0])  # warm-up
    start = time.perf_counter()
    for j in range(args.k):   # one after another: K single-model trainings
        train_grouped(1, data, labels, args.steps, args.batch, [j], init_seed=j)
    one_by_one = time.perf_counter() - start
    start = time.perf_counter()
    train_grouped(args.k, data, labels, args.steps, args.batch, list(range(args.k)))
    grouped = time.perf_counter() - start
    per_min = lambda seconds: 60 * args.k / seconds  # noqa: E731
    print(f"{args.size} px, K={args.k}, {args.steps} steps of batch {args.batch}, "
          f"{args.threads} thread(s)")
    print(f"one by one: {one_by_one:.2f} s = {per_min(one_by_one):.1f} models/min "
          f"(per {args.steps} steps)")
    print(f"grouped:    {grouped:.2f} s = {per_min(grouped):.1f} models/min; "
          f"ratio {one_by_one / grouped:.2f}x")

    # Does model 0's result depend on its batch-mates? Train {0, 1} and {0, 2}.
    a = model_slice(train_grouped(2, data, labels, 3, args.batch, [0, 1]), 0)
    b = model_slice(train_grouped(2, data, labels, 3, args.batch, [0, 2]), 0)
    same = all(torch.equal(a[n], b[n]) for n in a)
    worst = max((a[n].float() - b[n].float()).abs().max().item() for n in a)
    print(f"model 0 identical with different batch-mates: {same} (max abs diff {worst:.3g})")


if __name__ == "__main__":
    main()
