"""Same run twice, same bytes? Every method run twice from one original on one device.

For each `compute.deterministic` setting asked for, each method runs twice with the same
seed through the stages' own code path (unlearn.runner.run_unlearning, data on
the device, the default compute settings otherwise) and the two runs' logits are compared
byte for byte. A method whose kernels have no deterministic implementation on the device
fails with PyTorch's error under deterministic: true; that is printed, not hidden.

    python bench/determinism.py --device cuda                       # all methods, true and false
    python bench/determinism.py --device cuda --methods finetune ssd --modes true
"""
import argparse
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from unlearn.core import compute  # noqa: E402
from unlearn.methods import method_names  # noqa: E402
from unlearn.data.splits import Split  # noqa: E402
from unlearn.methods import method_config  # noqa: E402
from unlearn.training.model import build_model, pick_device  # noqa: E402
from unlearn.training.recipes import resolve_recipe  # noqa: E402
from unlearn.runner import run_unlearning  # noqa: E402


def random_splits(n, size, device, seed=0):
    """Random uint8 images, split like the default data, on `device`."""
    g = torch.Generator().manual_seed(seed)

    def one(m, name):
        return Split(torch.randint(0, 256, (m, 3, size, size), dtype=torch.uint8, generator=g),
                     torch.randint(0, 8, (m,), generator=g), [f"{name}{i}" for i in range(m)],
                     [f"p{i % 40}" for i in range(m)]).to(device)
    return {name: one(m, name) for name, m in
            (("retain", int(0.85 * n)), ("forget", n // 12), ("val", n // 12), ("test", n // 12))}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--methods", nargs="+", default=None, help="default: all")
    parser.add_argument("--modes", nargs="+", default=["true", "false"],
                        choices=["true", "false"], help="compute.deterministic values")
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()
    device = pick_device(args.device)
    splits = random_splits(args.images, args.size, device)
    torch.manual_seed(0)
    state = build_model(8).state_dict()
    recipe = resolve_recipe({"epochs": 1})
    methods = args.methods or [m for m in method_names() if m != "original"]
    print(f"device {device}, {args.images} images of {args.size} px, each method twice, seed 0")
    print("| deterministic | method | same bytes | seconds a run |\n|---|---|---|---|")
    failed = 0
    for mode in args.modes:
        cfg = {"deterministic": mode == "true"}
        compute.apply_to_process(compute.resolve(cfg, device), device)
        for name in methods:
            try:
                start = time.perf_counter()
                runs = [run_unlearning(name, method_config(name, None), state, splits, seed=0,
                                       device=device, num_classes=8, train_recipe=recipe,
                                       compute_cfg=cfg) for _ in range(2)]
                seconds = (time.perf_counter() - start) / 2
                same = all(torch.equal(runs[0].logits[s], runs[1].logits[s]) for s in runs[0].logits)
                print(f"| {mode} | {name} | {'yes' if same else 'NO'} | {seconds:.2f} |", flush=True)
                failed += mode == "true" and not same
            except Exception as e:  # a kernel without a deterministic implementation, a bug
                failed += 1
                print(f"| {mode} | {name} | ERROR {type(e).__name__}: "
                      f"{str(e).splitlines()[0][:150]} | |", flush=True)
                traceback.print_exc(file=sys.stderr)
    if "true" in args.modes:
        print(f"determinism: {'PASS' if not failed else 'FAIL'} ({failed} method(s) not "
              "byte-identical or failing under deterministic: true)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
