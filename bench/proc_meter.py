"""A process tree's peak memory, sampled from /proc (Linux) while it runs: the RSS of a
stage process (`python -m stages.<name>`) and of its largest worker, the PSS of the stage
process and its workers together and, on a GPU machine, their GPU memory (nvidia-smi).

PSS (proportional set size): a page shared by k processes, such as torch's libraries, the
memory a forked worker shares with its parent or memory-mapped prepared images, counts
1/k in each, so the sum over a stage's processes is what the stage holds; a sum of RSS
would count each shared page once per process. Used by bench/mufac_rehearsal.py.
"""
import os
import shutil
import threading
import time


def children():
    """{parent pid: [child pids]} of every process, from /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            out.setdefault(ppid, []).append(int(entry))
    return out


def tree(pid, kids=None):
    """pid and every descendant (`kids`: a `children()` map, read now if not given)."""
    kids = children() if kids is None else kids
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def _status_mb(pid, file, key):
    """The `key:` line of /proc/<pid>/<file> in MB (0 for a process gone meanwhile)."""
    try:
        for line in open(f"/proc/{pid}/{file}"):
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb(pid):
    return _status_mb(pid, "status", "VmRSS:")


def pss_mb(pid):
    """Proportional set size: resident pages, each shared one divided by its sharers."""
    return _status_mb(pid, "smaps_rollup", "Pss:")


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
    except OSError:
        return ""


def gpu_mb():
    """{pid: MB of GPU memory} of every process using a GPU (nvidia-smi); {} without one."""
    if not shutil.which("nvidia-smi"):
        return {}
    import subprocess
    out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                          "--format=csv,noheader,nounits"], capture_output=True, text=True)
    used = {}
    for line in out.stdout.splitlines():
        pid, _, mb = line.partition(",")
        if pid.strip().isdigit() and mb.strip().isdigit():
            used[int(pid)] = used.get(int(pid), 0) + int(mb)
    return used


# Seconds between samples, and samples per PSS reading. Reading the stage's smaps_rollup
# (PSS walks the page tables) every 0.1 s took a third of a core (issue 20's first full
# rehearsal: 33.5 CPU-min in 101 min; one reading of a 2-worker stage at MUFAC's size took
# 80 ms), which on 2 cores slowed the two-worker stages it measured. RSS (/proc status) is
# cheap. A peak shorter than the interval can be missed.
INTERVAL = 0.5
PSS_EVERY = 4


class Peaks:
    """Samples a process tree's memory every INTERVAL seconds until stopped: the RSS of the
    stage process (`python -m stages.`) and of its workers (its descendants), the PSS of the
    stage process and its workers together (every PSS_EVERY samples) and, on a GPU machine,
    their GPU memory together (nvidia-smi, every other sample). `cpu_seconds`: what the
    sampling itself cost."""

    def __init__(self, root_pid, interval=INTERVAL):
        self.root, self.stage, self.worker, self.total = root_pid, 0.0, 0.0, 0.0
        self.gpu, self.ticks, self.cpu_seconds, self.interval = 0.0, 0, 0.0, interval
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.wait(self.interval):
            began = time.thread_time()
            kids = children()
            stage = [p for p in tree(self.root, kids) if "-m stages." in cmdline(p)]
            if stage:
                pids = tree(stage[0], kids)   # the stage process and its workers
                self.stage = max(self.stage, rss_mb(stage[0]))
                self.worker = max([self.worker] + [rss_mb(p) for p in pids[1:]])
                if self.ticks % PSS_EVERY == 0:
                    self.total = max(self.total, sum(pss_mb(p) for p in pids))
                self.ticks += 1
                if self.ticks % 2 == 1:
                    used = gpu_mb()
                    self.gpu = max(self.gpu, sum(used.get(p, 0) for p in pids))
            self.cpu_seconds += time.thread_time() - began

    def stop(self):
        self.done.set()
        self.thread.join()
