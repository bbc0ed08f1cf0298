"""What a newcomer waits for: a fresh clone's `make repro`, venv included, timed.

Clones this repository (its committed HEAD) into a temporary folder and runs there, as the
README says, `make venv` then `make repro` (the second finds the venv built: together they
are one `make repro` on a fresh machine), then a no-op `dvc repro`. uv gets an empty cache of
its own, as on a machine that never ran it; pip's cache is left as this machine has it.
Prints the wall time of each step and whether the scores match the committed ones.

    python bench/first_repro.py
"""
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd, cwd, env):
    """Wall seconds of cmd; its output goes to stderr (progress), a failure ends the run."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=sys.stderr)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {cwd} (exit {proc.returncode})")
    return time.perf_counter() - start


def main():
    with tempfile.TemporaryDirectory(prefix="first-repro-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        env["UV_CACHE_DIR"] = str(Path(tmp) / "uv-cache")
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                      if not p.startswith(str(ROOT)))   # not this venv
        venv = timed(["make", "venv"], clone, env)
        repro = timed(["make", "repro"], clone, env)
        noop = timed([str(clone / ".venv/bin/dvc"), "repro"], clone, env)
        scores = sorted(p.name for p in (ROOT / "metrics/scores").glob("*.json"))
        same = [n for n in scores
                if filecmp.cmp(ROOT / "metrics/scores" / n, clone / "metrics/scores" / n, False)]
    print("| step (fresh clone) | wall s |")
    print("|---|---|")
    print(f"| `make venv` (uv, empty uv cache) | {venv:.0f} |")
    print(f"| the pipeline (`make repro` with the venv built) | {repro:.0f} |")
    print(f"| **`make repro` on a fresh clone, in all** | **{venv + repro:.0f}** "
          f"({(venv + repro) / 60:.1f} min) |")
    print(f"| no-op `dvc repro` afterwards | {noop:.1f} |")
    print(f"\n{len(same)} of {len(scores)} score files byte-identical to the committed ones.")


if __name__ == "__main__":
    sys.exit(main())
