"""Run many independent tasks (unlearning runs, model trainings) on a pool of workers.

A `Job` is three picklable, top-level pieces:

    setup(*setup_args) -> state     once per worker process: load data and weights
    run(state, task) -> result      once per task, a pure function of (state, task)

so a task's result cannot depend on how many workers there are or which one ran it.
Executors (params section `executor`):

    kind: local    K worker processes on this machine (`workers`), each running its
                   models with `compute.threads` intra-op threads
    kind: ray      one Ray task per run, on a Ray instance started on this machine
                   (`address: null`) or on a Ray cluster (`address: host:port`); each
                   task asks Ray for `num_cpus` CPUs and `num_gpus` GPUs and is rerun up
                   to `max_retries` times if its worker dies (unlearn/core/executor_ray.py;
                   ray is an optional dependency, imported only then)

`workers: 1` runs the tasks in this process. On CUDA, worker w uses GPU w mod #GPUs, so
K > #GPUs puts several small models on each GPU at once.

Why the thread count is a param (compute.threads) and not cores / K: on the CPU,
PyTorch's kernels split reductions by thread, so the same run with 1 and 2 intra-op
threads gives different bytes (measured on the default config). Fixing the threads per
run makes the outputs byte-identical for any K (tests/test_executor.py); and at 16 px a
second thread made one model only a few percent faster, while a second worker doubles
the models per minute.
"""
import os
import queue
import sys
import time
import traceback
from dataclasses import dataclass, field

from unlearn.core.errors import UserError

KINDS = ("local", "ray")
KEYS = ("kind", "workers", "address", "num_cpus", "num_gpus", "max_retries")


@dataclass
class Job:
    setup: callable
    run: callable
    setup_args: tuple = ()
    labels: list = field(default_factory=list)   # per task, for messages: "seed 3"
    # setup_args -> the same arguments with the files they name read into memory, for
    # executors whose workers may not see this machine's files (Ray); None = ship as is
    inline: callable = None


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_executor(cfg, threads=1, where="executor"):
    """Validate the `executor` section for runs of `threads` threads each; resolve workers.

    Every key is checked whatever the kind, so a typo is caught before it matters.
    """
    from unlearn.core.executor_ray import check_ray_keys   # plain checks: ray itself is not imported
    if not isinstance(cfg, dict):
        raise UserError(f"{where}: expected a mapping, got {type(cfg).__name__}")
    unknown = set(cfg) - set(KEYS)
    if unknown:
        raise UserError(f"{where}.{sorted(unknown)[0]}: unknown key; known: {', '.join(KEYS)}")
    kind = cfg.get("kind", "local")
    if kind not in KINDS:
        raise UserError(f"{where}.kind: {kind!r} unknown; choose from {', '.join(KINDS)}")
    ray_cfg = check_ray_keys(cfg, threads, where)
    # Processes at once on this machine: local workers, or the tasks of a local Ray instance.
    per_worker = ray_cfg["num_cpus"] if kind == "ray" else threads
    cores = usable_cores()
    workers = cfg.get("workers", "auto")
    if workers == "auto":
        workers = max(1, int(cores // per_worker))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UserError(f"{where}.workers: must be an integer ≥ 1 or 'auto', got {workers!r}")
    local = kind == "local" or ray_cfg["address"] is None
    if local and workers * per_worker > cores:
        what = "thread(s) (compute.threads)" if kind == "local" else "CPU(s) (executor.num_cpus)"
        raise UserError(f"{where}.workers: {workers} workers × {per_worker:g} {what} "
                        f"need {workers * per_worker:g} cores; this machine has {cores}")
    return {**cfg, **ray_cfg, "kind": kind, "workers": workers, "threads": threads}


def describe(cfg):
    """Where a checked executor section sends runs, for a progress line."""
    if cfg["kind"] == "local":
        return f"{cfg['workers']} worker(s)"
    where = (f"a local Ray instance ({cfg['workers']} at once)" if cfg["address"] is None
             else f"the Ray cluster at {cfg['address']}")
    return f"Ray tasks on {where}"


def configure_process(threads, worker_index=0):
    """Per-process settings every run gets, in the main process or a worker alike."""
    import torch
    torch.set_num_threads(threads)
    if torch.cuda.is_available():
        torch.cuda.set_device(worker_index % torch.cuda.device_count())


def run_all(job, tasks, cfg, progress=None):
    """Results of `job.run` on every task, in task order. cfg: a checked executor section.

    `progress(done, total, result)` is called as each task finishes. A task that raises
    stops everything with that error; a worker that dies (killed, out of memory) stops
    everything with a one-line UserError naming the task it was running.
    """
    labels = job.labels or [f"task {i}" for i in range(len(tasks))]
    if cfg["kind"] == "ray":
        from unlearn.core.executor_ray import run_on_ray
        return run_on_ray(job, tasks, cfg, labels, progress)
    if cfg["workers"] == 1 or len(tasks) <= 1:
        import torch
        threads = torch.get_num_threads()
        try:
            configure_process(cfg["threads"])
            state = job.setup(*job.setup_args)
            results = []
            for i, task in enumerate(tasks):
                results.append(job.run(state, task))
                if progress:
                    progress(i + 1, len(tasks), results[-1])
            return results
        finally:
            torch.set_num_threads(threads)  # a caller that goes on is left as it was
    return _LocalPool(min(cfg["workers"], len(tasks)), cfg["threads"]).map(job, tasks, labels,
                                                                            progress)


class _LocalPool:
    """K spawned worker processes, one task each at a time, so a dead worker's task is known."""

    def __init__(self, workers, threads):
        self.workers, self.threads = workers, threads

    def map(self, job, tasks, labels, progress):
        import multiprocessing as mp
        ctx = mp.get_context(start_method(self.threads))
        outbox = ctx.Queue()
        inboxes = [ctx.Queue() for _ in range(self.workers)]
        procs = [ctx.Process(target=_worker_main, daemon=True, name=f"unlearn-worker-{w}",
                             args=(w, self.threads, job, inboxes[w], outbox))
                 for w in range(self.workers)]
        for p in procs:
            p.start()
        results, todo, busy, idle = [None] * len(tasks), list(range(len(tasks))), {}, set()
        done = 0
        try:
            while done < len(tasks):
                for w in sorted(idle):
                    if todo:
                        i = todo.pop(0)
                        busy[w] = i
                        idle.discard(w)
                        inboxes[w].put((i, tasks[i]))
                try:
                    msg = outbox.get(timeout=0.2)
                except queue.Empty:
                    _check_alive(procs, busy, labels)
                    continue
                kind, w = msg[0], msg[1]
                if kind == "ready":
                    idle.add(w)
                elif kind == "done":
                    i = busy.pop(w)
                    results[i] = msg[2]
                    idle.add(w)
                    done += 1
                    if progress:
                        progress(done, len(tasks), results[i])
                elif kind == "user_error":
                    raise UserError(f"{labels[busy[w]]}: {msg[2]}" if w in busy else msg[2])
                else:  # "error": a bug; show the worker's traceback
                    where = labels[busy[w]] if w in busy else f"worker {w} setup"
                    print(msg[2], file=sys.stderr, end="")
                    raise RuntimeError(f"{where} failed in a worker process (traceback above)")
        finally:
            _stop(procs, inboxes)
        return results


def start_method(threads):
    """`fork` where it is safe, for a worker that starts in milliseconds; else `spawn`.

    A forked child inherits the parent's imports and memory instead of importing torch
    again (~3 s a worker). It is safe on Linux without CUDA when the child runs its ops
    on one thread: PyTorch then runs every parallel loop inline and never touches the
    OpenMP pool that the parent may have started (GNU OpenMP is not fork-safe).
    """
    import torch
    if sys.platform == "linux" and threads == 1 and not torch.cuda.is_available():
        return "fork"
    return "spawn"


def _check_alive(procs, busy, labels):
    for w, p in enumerate(procs):
        if not p.is_alive():
            what = labels[busy[w]] if w in busy else "its start-up"
            raise UserError(f"executor: worker {w} died (exit code {p.exitcode}) while running "
                            f"{what}; nothing was written, run again to redo it")


def _stop(procs, inboxes):
    for p, inbox in zip(procs, inboxes):
        if p.is_alive():
            inbox.put(None)
    deadline = time.time() + 5
    for p in procs:
        p.join(timeout=max(0.0, deadline - time.time()))
        if p.is_alive():
            p.kill()
            p.join()


def _guarded(w, outbox, fn, *args):
    """(True, fn(*args)), or (False, None) after reporting fn's exception to the parent."""
    try:
        return True, fn(*args)
    except UserError as e:
        outbox.put(("user_error", w, str(e)))
    except BaseException:
        outbox.put(("error", w, traceback.format_exc()))
    return False, None


def _setup_worker(w, threads, job):
    configure_process(threads, w)
    return job.setup(*job.setup_args)


def _worker_main(w, threads, job, inbox, outbox):
    os.environ["TQDM_DISABLE"] = "1"  # the parent shows one bar for all runs
    ok, state = _guarded(w, outbox, _setup_worker, w, threads, job)
    if not ok:
        return
    outbox.put(("ready", w))
    while (item := inbox.get()) is not None:
        ok, result = _guarded(w, outbox, job.run, state, item[1])
        if not ok:
            return
        outbox.put(("done", w, result))
