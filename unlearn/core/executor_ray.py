"""`executor.kind: ray`: the tasks of a Job run on Ray actors, on this machine or a cluster.

    address: null        start a Ray instance on this machine for the stage (`workers`
                         runs at once), reachable through 127.0.0.1 only, stopped after
    address: host:port   join the Ray cluster whose head listens there (`ray start --head`)
    num_cpus: auto       CPUs a run holds; auto = compute.threads
    num_gpus: auto       GPUs a run holds; a fraction shares one GPU (0.25: four runs a GPU);
                         auto = 1 / workers_per_gpu where there are GPUs and device is not
                         cpu, else 0 (unlearn/core/placement.py)
    max_retries: 3       times Ray restarts a slot whose process or node died and reruns
                         its task

Each slot is one Ray actor holding its CPUs and GPUs for its whole life. Ray sets
CUDA_VISIBLE_DEVICES for an actor's process once, before any of our code runs, so the
slot's torch sees exactly the GPU Ray gave it, for every task it runs (a plain Ray task
process is reused across tasks that Ray assigns to other GPUs, while CUDA keeps the
first). The Job's setup arguments go into Ray's object store once (with `Job.inline`,
the files they name travel as their contents, so a worker needs no shared filesystem);
each slot runs `setup` once and then the tasks handed to it, as a local worker does, with
torch's intra-op threads at compute.threads, so a run gives the same bytes on Ray as on
the local executor. The project's packages reach the workers as Ray `py_modules`; the
cluster's nodes need the same virtual environment (Python, torch, ray) as this one.

ray is an optional dependency (requirements-ray.txt): this module imports it only when
a run starts, so `kind: local` never does.
"""
import math
import os
import socket
import sys
from pathlib import Path

from unlearn.core import placement
from unlearn.core.errors import UserError
from unlearn.core.sections import ray_address, split_address
from unlearn.core.worker import set_threads_and_gpu

CONNECT_TIMEOUT_S = 5.0   # an address that does not answer within this is reported as such


def parse_address(address, where="executor"):
    """(host, port) of a Ray head's `host:port` (checked by the executor section's class,
    unlearn/core/sections.py)."""
    problem = ray_address(address)
    if problem:
        raise UserError(f"{where}.address: {problem}")
    return split_address(address)


def import_ray(local):
    """ray, imported with this project's settings (environment variables read at import).

    No usage statistics leave the machine. A local instance binds to 127.0.0.1 only:
    on Linux Ray otherwise listens on every interface; the switch that keeps it on
    loopback is the one Ray offers for single-machine use on macOS and Windows.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if local and "ray" not in sys.modules:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise UserError("executor.kind: ray needs the ray package: "
                        "pip install -r requirements-ray.txt -c constraints.txt") from None
    return ray


def connect(ray, cfg, packages):
    """ray.init for a checked executor section; a cluster that cannot be reached is a UserError."""
    runtime_env = {"py_modules": sorted(str(p) for p in packages),
                   "env_vars": {"TQDM_DISABLE": "1"}}   # the driver shows the progress
    common = {"logging_level": "WARNING", "log_to_driver": False, "runtime_env": runtime_env}
    if cfg["address"] is None:
        cpus = math.ceil(cfg["workers"] * cfg["num_cpus"])   # Ray wants a whole number here
        gpus = len(cfg.get("gpus") or []) if cfg["num_gpus"] else 0   # CPU runs: none
        ray.init(num_cpus=cpus, num_gpus=gpus, include_dashboard=False, **common)
        return
    host, port = parse_address(cfg["address"])
    try:  # fail in seconds, not after Ray's own reconnection attempts
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise UserError(f"executor.address: no Ray cluster answers at {cfg['address']} "
                        f"({e.strerror or type(e).__name__})") from None
    try:
        ray.init(address=f"{host}:{port}", **common)
    except Exception as e:  # not a Ray head, another Ray version, refused auth ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"executor.address: cannot join the Ray cluster at {cfg['address']} "
                        f"({first})") from None


def check_resources(ray, cfg):
    """GPUs per run resolved for the nodes there are (`num_gpus: auto`, and GPUs that the
    runs would not use refused, unlearn/core/placement.py); then fail now, naming the key,
    if no node can ever hold a run (Ray would wait forever). Returns the alive nodes'
    resources."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if cfg["address"] is not None and cfg.get("device") is not None:
        most = max((n.get("GPU", 0) for n in nodes), default=0)
        cfg["num_gpus"] = placement.ray_num_gpus(cfg["num_gpus"], device=cfg["device"],
                                                 gpus=int(most),
                                                 per_gpu=cfg.get("workers_per_gpu", 1))
    elif cfg["num_gpus"] == "auto":
        cfg["num_gpus"] = 0      # device unknown: the section alone was checked
    for key, resource in (("num_cpus", "CPU"), ("num_gpus", "GPU")):
        need = cfg[key]
        have = max((n.get(resource, 0) for n in nodes), default=0)
        if need > have:
            where = ("the local Ray instance" if cfg["address"] is None
                     else f"the Ray cluster at {cfg['address']}")
            raise UserError(f"executor.{key}: each task asks for {need:g} {resource}(s); no node "
                            f"of {where} has that many (the largest has {have:g})")
    return nodes


def packages_of(job):
    """Folders of the packages a worker must import: this library and the job's own."""
    found = {Path(__file__).resolve().parent}
    for fn in (job.setup, job.run):
        top = sys.modules.get(fn.__module__.split(".")[0])
        if top is not None and hasattr(top, "__path__"):   # a package, not a lone module
            found.add(Path(list(top.__path__)[0]).resolve())
    return found


def run_on_ray(job, tasks, cfg, labels, progress=None):
    """Results of job.run on every task, in task order (see unlearn.core.executor.run_all)."""
    ray = import_ray(local=cfg["address"] is None)
    connect(ray, cfg, packages_of(job))
    cfg = dict(cfg)
    slots, pending = [], {}
    try:
        nodes = check_resources(ray, cfg)
        count = (cfg["workers"] if cfg["workers"] != "auto"
                 else placement.ray_slots(nodes, cfg["num_cpus"], cfg["num_gpus"], len(tasks)))
        args = job.inline(*job.setup_args) if job.inline else tuple(job.setup_args)
        # Inside a list, so Ray hands the reference over unresolved: a slot reads the
        # (possibly large) arguments once, at its first task.
        args_box = [ray.put(args)]
        slot_class = ray.remote(Slot).options(
            num_cpus=cfg["num_cpus"], num_gpus=cfg["num_gpus"],
            max_restarts=cfg["max_retries"], max_task_retries=cfg["max_retries"])
        slots = [slot_class.remote(job.setup, job.run, cfg["threads"])
                 for _ in range(min(count, len(tasks)))]
        results, todo, done, free = [None] * len(tasks), list(range(len(tasks))), 0, list(slots)
        while done < len(tasks):
            while free and todo:
                slot, i = free.pop(0), todo.pop(0)
                pending[slot.run.remote(args_box, tasks[i])] = (i, slot)
            ready, _ = ray.wait(list(pending), num_returns=1)
            i, slot = pending.pop(ready[0])
            results[i] = _result(ray, ready[0], labels[i], cfg["max_retries"])
            free.append(slot)
            done += 1
            if progress:
                progress(done, len(tasks), results[i])
        return results
    finally:  # done, or an error stopped the map: end the slots and their tasks
        for slot in slots:
            ray.kill(slot, no_restart=True)
        ray.shutdown()


def _result(ray, ref, label, retries):
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:  # the task itself raised
        cause = getattr(e, "cause", None)
        if isinstance(cause, UserError):
            raise UserError(f"{label}: {cause}") from None
        print(str(e), file=sys.stderr)
        raise RuntimeError(f"{label} failed in a Ray task (traceback above)") from None
    except ray.exceptions.RayError as e:  # its worker or node died, and the retries did too
        tries = f"after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else "no retries"
        raise UserError(f"executor: a Ray worker died ({type(e).__name__}) while running {label}, "
                        f"{tries}; nothing was written, run again to redo it") from None


class Slot:
    """One run at a time on the CPUs and GPUs Ray gave this actor (see the module doc).

    The job's set-up runs at the slot's first task and its state stays for the others; a
    slot Ray restarts after its process died sets up again. The set-up arguments come with
    each task, not to the constructor: Ray cannot restart an actor whose constructor
    arguments it no longer holds."""

    def __init__(self, setup, run, threads):
        self.setup, self.run_fn, self.threads, self.state = setup, run, threads, None

    def run(self, args_box, task):
        import ray
        if self.state is None:
            self.state = (self.setup(*ray.get(args_box[0])),)
        if "torch" in sys.modules:  # jobs that run models (a job that only runs commands skips it)
            # No GPU to pick: CUDA_VISIBLE_DEVICES holds only this slot's, so `cuda` is it.
            set_threads_and_gpu(self.threads)
        return self.run_fn(self.state[0], task)
