"""The committed default run reproduces: a fresh copy of the repository, run on the default
params, writes outputs with the hashes recorded in the committed dvc.lock, and the README's
results table is the committed leaderboard.

The reproduction runs the data, the original model and one method (`dvc repro
unlearn@finetune`, about a minute) rather than the whole default pipeline: every other
stage is built from the same code paths, and the full run is what `make repro` does.
"""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline_repo import ROOT, dvc, make_repo

STAGES = ("generate", "prepare", "train_original@0", "unlearn@finetune")
LOCK = ROOT / "dvc.lock"


def out_hashes(lock_text, stages):
    lock = yaml.safe_load(lock_text)["stages"]
    return {o["path"]: o["md5"] for s in stages for o in lock[s].get("outs", [])
            if not o["path"].startswith("metrics")}   # metrics hold wall-clock timings


@pytest.mark.skipif(not LOCK.is_file(), reason="no committed dvc.lock")
def test_a_fresh_copy_reproduces_the_committed_hashes(tmp_path):
    repo = make_repo(tmp_path / "repo", overrides={})   # the default params, as committed
    dvc(repo, "repro", "unlearn@finetune")
    expected = out_hashes(LOCK.read_text(), STAGES)
    assert expected, "the committed dvc.lock lists none of the stages"
    assert out_hashes((repo / "dvc.lock").read_text(), STAGES) == expected


@pytest.mark.skipif(not (ROOT / "metrics/leaderboard.json").is_file(),
                    reason="no committed leaderboard")
def test_the_readme_results_are_the_committed_leaderboard():
    proc = subprocess.run([sys.executable, str(ROOT / "tools/readme_results.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
