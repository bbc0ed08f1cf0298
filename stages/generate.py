"""generate stage: write the synthetic MUFAC stand-in to <generate.out>/<MUFAC folder>/.

Reads params `generate`. The dataset is written into a temporary sibling of
`generate.out` that replaces it only when complete. `generate.out` is replaced whole, so
it must be a folder of its own (data/synthetic), never one holding anything else.
Run from the repo root: `python -m stages.generate`.
"""
import time
from pathlib import Path

from stages.common import entry_point, load_params
from unlearn.core.atomic import atomic_dir
from unlearn.core.errors import UserError
from unlearn.data.mufac import DATASET_DIRNAME
from unlearn.data.synthetic import check_config, generate


def check_out(out):
    """Refuse an `out` whose replacement would delete anything but an earlier dataset."""
    here = Path.cwd().resolve()
    target = (here / out).resolve()
    if target == here or target in here.parents or str(out).strip() in ("", "."):
        raise UserError(f"generate.out: {out!r} is the working folder or above it")
    if target.exists() and not target.is_dir():
        raise UserError(f"generate.out: {out} is a file, not a folder")
    extra = [p.name for p in target.iterdir() if p.name != DATASET_DIRNAME] if target.exists() else []
    if extra:
        raise UserError(f"generate.out: {out} holds other files ({', '.join(sorted(extra)[:3])});"
                        " it must be a folder of its own, replaced by each run")


@entry_point
def main():
    cfg = load_params()["generate"]
    check_config(cfg)
    check_out(cfg["out"])
    start = time.time()
    with atomic_dir(cfg["out"]) as tmp:
        counts, planted = generate(tmp / DATASET_DIRNAME, cfg)
    kinds = [p["kind"] for p in planted]
    print(f"generated {Path(cfg['out']) / DATASET_DIRNAME}: "
          + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f" images ({kinds.count('exact')} exact and {kinds.count('near')} re-encoded "
          f"planted copies) in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
