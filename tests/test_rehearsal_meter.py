"""bench/mufac_rehearsal.py's memory meter: a stage's total counts a page its processes share
once (PSS), where a sum of RSS would count it in each process."""
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import mufac_rehearsal  # noqa: E402

# A "stage" (its command line holds `-m stages.`) that fills 300 MB, then forks a worker
# that reads the same pages (shared copy-on-write) and fills 100 MB of its own.
STAGE = """
import os, sys, time
block = bytearray(300 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1
if os.fork() == 0:
    own = bytearray(100 * 2**20)
    for i in range(0, len(own), 4096):
        own[i] = 1
    total = sum(block[i] for i in range(0, len(block), 4096))
    time.sleep(1.5)
    os._exit(0)
os.wait()
"""


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc")
def test_a_page_shared_by_a_stage_and_its_worker_counts_once():
    proc = subprocess.Popen([sys.executable, "-c", STAGE, "-m", "stages.fake"])
    peaks = mufac_rehearsal.Peaks(proc.pid)
    assert proc.wait(timeout=60) == 0
    peaks.stop()
    assert peaks.stage >= 300 and peaks.worker >= 400      # RSS: the shared pages in each
    assert 400 <= peaks.total < 550, peaks.total            # PSS: 300 shared + 100 own, once
