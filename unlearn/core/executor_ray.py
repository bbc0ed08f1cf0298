"""`executor.kind: ray`: each task of a Job is one Ray task, on this machine or a cluster.

    address: null        start a Ray instance on this machine for the stage (`workers`
                         tasks at once), reachable through 127.0.0.1 only, stopped after
    address: host:port   join the Ray cluster whose head listens there (`ray start --head`)
    num_cpus: auto       CPUs Ray reserves per task; auto = compute.threads
    num_gpus: 0          GPUs per task; a fraction shares one GPU (0.25: four runs a GPU)
    max_retries: 3       times Ray reruns a task whose worker or node died

The Job's setup arguments go into Ray's object store once (with `Job.inline`, the files
they name travel as their contents, so a worker needs no shared filesystem); `setup`
runs once per Ray worker process and its state stays cached there for the job's later
tasks, as in the local pool. Each task sets torch's intra-op threads to compute.threads,
so a run gives the same bytes on Ray as on the local executor. The project's packages
reach the workers as Ray `py_modules`; the cluster's nodes need the same virtual
environment (Python, torch, ray) as this one.

ray is an optional dependency (requirements-ray.txt): this module imports it only when
a run starts, so `kind: local` never does.
"""
import math
import os
import socket
import sys
from pathlib import Path

from unlearn.core.errors import UserError

CONNECT_TIMEOUT_S = 5.0   # an address that does not answer within this is reported as such


def check_ray_keys(cfg, threads, where="executor"):
    """The Ray keys of an executor section, validated, with defaults and `auto` resolved."""
    address = cfg.get("address")
    if address is not None:
        parse_address(address, where)
    num_cpus = cfg.get("num_cpus", "auto")
    if num_cpus == "auto":
        num_cpus = threads
    if not _is_number(num_cpus) or num_cpus <= 0:
        raise UserError(f"{where}.num_cpus: must be a number > 0 or 'auto', got {num_cpus!r}")
    num_gpus = cfg.get("num_gpus", 0)
    if not _is_number(num_gpus) or num_gpus < 0:
        raise UserError(f"{where}.num_gpus: must be a number ≥ 0, got {num_gpus!r}")
    retries = cfg.get("max_retries", 3)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise UserError(f"{where}.max_retries: must be an integer ≥ 0, got {retries!r}")
    return {"address": address, "num_cpus": num_cpus, "num_gpus": num_gpus,
            "max_retries": retries}


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_address(address, where="executor"):
    host, _, port = str(address).rpartition(":")
    if not isinstance(address, str) or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"{where}.address: expected host:port of a Ray head or null, "
                        f"got {address!r}")
    return host.strip("[]"), int(port)


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
        ray.init(num_cpus=cpus, include_dashboard=False, **common)
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
    """Fail now, naming the key, if no node can ever run a task (Ray would wait forever)."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    for key, resource in (("num_cpus", "CPU"), ("num_gpus", "GPU")):
        need = cfg[key]
        have = max((n.get(resource, 0) for n in nodes), default=0)
        if need > have:
            where = ("the local Ray instance" if cfg["address"] is None
                     else f"the Ray cluster at {cfg['address']}")
            raise UserError(f"executor.{key}: each task asks for {need:g} {resource}(s); no node "
                            f"of {where} has that many (the largest has {have:g})")


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
    pending = []
    try:
        check_resources(ray, cfg)
        args = job.inline(*job.setup_args) if job.inline else tuple(job.setup_args)
        # Inside a list, so Ray hands the reference over unresolved: a worker reads the
        # (possibly large) arguments only when its cached state is for another job.
        args_box = [ray.put(args)]
        remote = ray.remote(_run_task).options(
            num_cpus=cfg["num_cpus"], num_gpus=cfg["num_gpus"], max_retries=cfg["max_retries"],
            retry_exceptions=False, name="unlearn-task")
        refs = [remote.remote(job.setup, job.run, args_box, task, cfg["threads"]) for task in tasks]
        index = {ref: i for i, ref in enumerate(refs)}
        results, pending, done = [None] * len(tasks), list(refs), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            i = index[ready[0]]
            results[i] = _result(ray, ready[0], labels[i], cfg["max_retries"])
            done += 1
            if progress:
                progress(done, len(tasks), results[i])
        return results
    finally:
        for ref in pending:  # an error stopped the map: stop the other tasks too
            ray.cancel(ref, force=True)
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


_WORKER = {}   # in a Ray worker process: the current job's set-up state and its key


def _run_task(setup, run, args_box, task, threads):
    """One task in a Ray worker: set the job up once per worker process, then run it."""
    import ray
    key = args_box[0].hex()
    if _WORKER.get("key") != key:
        _WORKER.clear()
        _WORKER["state"] = setup(*ray.get(args_box[0]))
        _WORKER["key"] = key
    if "torch" in sys.modules:  # jobs that run models (a job that only runs commands skips it)
        from unlearn.core.executor import configure_process
        configure_process(threads)   # Ray pins a GPU task's devices through CUDA_VISIBLE_DEVICES
    return run(_WORKER["state"], task)
