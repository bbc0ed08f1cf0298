"""A real Ray cluster on 127.0.0.1 for tests: a head node and a worker node, one CPU each.

Both are `ray start --block` processes in sessions of their own; stopping the cluster
kills exactly the processes they started (found by parentage), nothing else of the machine's.
Every Ray process binds to 127.0.0.1: on Linux Ray resolves 127.0.0.1 to the machine's
outward address unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, and with that set its `ray
start` refuses to add a second node, so the worker node is started through a wrapper that
tells `ray start` the node's address is 127.0.0.1. No usage statistics, no auth token
written to the home folder, temporary files in a folder of the cluster's own.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
       "RAY_AUTH_MODE": "disabled"}
WORKER_NODE = ("import ray._private.ray_constants as c, ray._private.services as s; "
               "c.ENABLE_RAY_CLUSTER = True; "
               "s.get_node_ip_address = lambda address=None: '127.0.0.1'; "
               "from ray.scripts.scripts import main; main()")
NODE_OPTIONS = ["--num-cpus=1", "--num-gpus=0", "--object-store-memory=100000000",
                "--disable-usage-stats", "--block"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackCluster:
    def __init__(self):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="ray-"))   # short: Ray's socket paths live here
        self.env = {**os.environ, **ENV, "RAY_TMPDIR": str(self.tmp)}
        self.procs = []

    def _start(self, args, log):
        proc = subprocess.Popen(args, env=self.env, start_new_session=True,
                                stdout=open(self.tmp / log, "w"), stderr=subprocess.STDOUT)
        self.procs.append(proc)

    def start(self, timeout=90):
        self._start([str(BIN / "ray"), "start", "--head", "--node-ip-address=127.0.0.1",
                     f"--port={self.port}", "--include-dashboard=false",
                     f"--temp-dir={self.tmp / 'head'}", *NODE_OPTIONS], "head.log")
        self._wait(lambda: self._nodes() >= 1, timeout, "head.log")
        self._start([sys.executable, "-c", WORKER_NODE, "start", f"--address={self.address}",
                     "--node-ip-address=127.0.0.1", f"--temp-dir={self.tmp / 'worker'}",
                     *NODE_OPTIONS], "worker.log")
        self._wait(lambda: self._nodes() >= 2, timeout, "worker.log")
        return self

    def _nodes(self):
        """Alive nodes, asked from a separate process (this one must not hold a connection)."""
        code = ("import ray; ray.init(address=%r, logging_level='ERROR'); "
                "print(sum(n['Alive'] for n in ray.nodes()))" % self.address)
        proc = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True,
                              text=True, timeout=60)
        return int(proc.stdout.strip() or 0) if proc.returncode == 0 else 0

    def _wait(self, ready, timeout, log):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(p.poll() is not None for p in self.procs):
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                if ready():
                    return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Ray cluster did not start; {log}:\n"
                           + (self.tmp / log).read_text()[-3000:] if (self.tmp / log).exists()
                           else "Ray cluster did not start")

    def processes(self):
        """{pid: command line} of every process this cluster started, at any depth (Ray's
        worker processes run in process groups of their own)."""
        table = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except (OSError, UnicodeDecodeError, IndexError):
                    continue
                table[int(entry.name)] = (ppid, cmd)
        ours, grew = {p.pid for p in self.procs}, True
        while grew:
            new = {pid for pid, (ppid, _) in table.items() if ppid in ours} - ours
            ours |= new
            grew = bool(new)
        return {pid: table[pid][1] for pid in ours if pid in table}

    def worker_pids(self, task_name):
        """Pids of this cluster's worker processes now running a task named task_name."""
        return [pid for pid, cmd in self.processes().items()
                if cmd.startswith(f"ray::{task_name}")]

    def stop(self):
        """Kill what the cluster started: the `ray start` process groups, then any worker."""
        leftovers = self.processes()
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.procs = []
        shutil.rmtree(self.tmp, ignore_errors=True)
