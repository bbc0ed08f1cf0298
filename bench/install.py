"""How long `make venv` takes with pip and with uv: the same pins, one after the other.

Each row builds a fresh venv in a temporary folder with the Makefile's own recipe
(`make venv VENV=<tmp> INSTALLER=pip|uv`) and times it. pip's cache is left as this machine
has it (a newcomer's is the same: the wheels come from the package indexes and the local
wheel folder pip is configured with). uv runs twice: first with an empty cache of its own,
as on a newcomer's machine, then again with what that run left in its cache.

    python bench/install.py
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_venv(venv, installer, env):
    start = time.perf_counter()
    subprocess.run(["make", "-s", "venv", f"VENV={venv}", f"INSTALLER={installer}"], cwd=ROOT,
                   env=env, check=True)
    seconds = time.perf_counter() - start
    files = subprocess.run(["du", "-sh", str(venv)], capture_output=True, text=True).stdout.split()[0]
    return seconds, files


def main():
    rows = []
    with tempfile.TemporaryDirectory(prefix="venv-bench-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, UV_CACHE_DIR=str(tmp / "uv-cache"))
        for name, installer in (("pip", "pip"), ("uv, empty cache", "uv"),
                                ("uv, cache of the run above", "uv")):
            venv = tmp / "venv"
            rows.append((name, *make_venv(venv, installer, env)))
            subprocess.run(["rm", "-rf", str(venv)], check=True)
    print("`make venv` into a new folder (requirements.txt + constraints.txt, the project "
          "editable)\n")
    print("| installer | wall s | × pip | venv size |")
    print("|---|---|---|---|")
    for name, seconds, size in rows:
        print(f"| {name} | {seconds:.1f} | {rows[0][1] / seconds:.2f} | {size} |")


if __name__ == "__main__":
    sys.exit(main())
