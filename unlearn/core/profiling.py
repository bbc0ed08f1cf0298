"""Where a stage process spends its wall time, for bench/pipeline_profile.py.

Off unless the environment variable UNLEARN_PROFILE names a file. Then every stage
process appends one JSON line to it when it ends:

    {"argv": [...], "created": t0, "main": t1, "end": t2, "phases": {name: seconds}}

`created` is when the OS started the process, `main` when the stage's main() began (so
main - created is interpreter start-up plus imports), and `phases` are the named
blocks the stage wrapped in `phase(...)`. Deliberately imports nothing heavy: it is
imported before torch.
"""
import json
import os
import sys
import time
from contextlib import contextmanager

ENV = "UNLEARN_PROFILE"
_phases = {}


def enabled():
    return bool(os.environ.get(ENV))


@contextmanager
def phase(name):
    """Add the wall time of the block to phase `name` (blocks of one name accumulate)."""
    start = time.time()
    try:
        yield
    finally:
        _phases[name] = _phases.get(name, 0.0) + time.time() - start


def add(name, seconds):
    """Attribute `seconds` to `name` directly (time measured elsewhere, e.g. in a worker)."""
    _phases[name] = _phases.get(name, 0.0) + seconds


def _process_created():
    """The process's start time in seconds since the epoch (Linux /proc; else None)."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, StopIteration, IndexError):
        return None


def record(main_started):
    """Append this process's record to the profile file (no-op when profiling is off)."""
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps({"argv": sys.argv[1:], "module": sys.argv[0], "cwd": os.getcwd(),
                       "created": _process_created(), "main": main_started,
                       "end": time.time(), "phases": _phases})
    with open(path, "a") as f:  # one short line per process: appends do not interleave
        f.write(line + "\n")
