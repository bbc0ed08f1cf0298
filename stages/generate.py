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
from unlearn.data.mufac import DATASET_DIRNAME
from unlearn.data.synthetic import check_generate_out, generate


@entry_point
def main():
    cfg = load_params()["generate"]   # parsed by its class there: a bad value stops here
    check_generate_out(cfg["out"])
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
