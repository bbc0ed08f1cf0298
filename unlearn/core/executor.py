"""Run many independent tasks (unlearning runs, model trainings) on a pool of workers.

A `Job` is three picklable, top-level pieces:

    setup(*setup_args) -> state     once per worker process: load data and weights
    run(state, task) -> result      once per task, a pure function of (state, task)

so a task's result cannot depend on how many workers there are or which one ran it.
Executors (params section `executor`):

    kind: local    K worker processes on this machine (`workers`), each running its
                   models with `compute.threads` intra-op threads
    kind: ray      `workers` Ray actors, on a Ray instance started on this machine
                   (`address: null`) or on a Ray cluster (`address: host:port`); each
                   holds `num_cpus` CPUs and `num_gpus` GPUs for its life and reruns a
                   task up to `max_retries` times if it dies (unlearn/core/executor_ray.py;
                   ray is an optional dependency, imported only then)

`workers: 1` runs the tasks in this process. On CUDA, worker w runs on the w-th GPU in
use, round robin, and at most `workers_per_gpu` workers share one GPU
(unlearn/core/placement.py). Workers of CPU runs never create a CUDA context.

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

from unlearn.core import placement
from unlearn.core.errors import UserError
from unlearn.core.progress import hide_inner_bars
from unlearn.core.sections import ExecutorConfig
from unlearn.core.worker import set_threads_and_gpu


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


def visible_gpus():
    """CUDA devices this process can see (0 without CUDA); creates no CUDA context."""
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_executor(cfg, threads=1, where="executor", device=None):
    """The `executor` section parsed by its class (unlearn/core/sections.py) and resolved for
    runs of `threads` threads each on `device` (the params' device; None = the section alone,
    no GPU rules): `workers` from this machine's cores and GPUs, `num_cpus: auto` = threads,
    `workers_per_gpu: auto`, and `num_gpus` for a local Ray instance. A dict.

    Every key is checked whatever the kind, so a typo is caught before it matters.
    """
    cfg = ExecutorConfig.parse(cfg, where).to_dict()
    kind = cfg["kind"]
    per_gpu = placement.per_gpu_limit(cfg["workers_per_gpu"])
    if cfg["num_cpus"] == "auto":
        cfg["num_cpus"] = threads
    local = kind == "local" or cfg["address"] is None
    # GPUs of this machine the runs use; a cluster's are known only once joined
    gpus = (placement.gpus_in_use(device, visible_gpus() if str(device) != "cpu" else 0)
            if device is not None and local else [])
    workers = cfg["workers"]
    if kind == "local":
        workers = placement.local_workers(workers, cores=usable_cores(), per_worker=threads,
                                          gpus=gpus, per_gpu=per_gpu, where=where)
    else:
        if local and device is not None:
            cfg["num_gpus"] = placement.ray_num_gpus(cfg["num_gpus"], device=device,
                                                     gpus=len(gpus), per_gpu=per_gpu,
                                                     where=where)
        workers = _ray_workers(workers, cfg, gpus, local, where)
    return {**cfg, "workers": workers, "threads": threads, "workers_per_gpu": per_gpu,
            "device": device, "gpus": gpus}


def _ray_workers(workers, ray_cfg, gpus, local, where):
    """Runs at once for Ray: on a local instance, what this machine's cores and GPUs hold;
    on a cluster, `auto` is left for executor_ray to count from the nodes."""
    cpus, share = ray_cfg["num_cpus"], ray_cfg["num_gpus"]
    if not local:
        if workers == "auto":
            return workers
        cores = float("inf")
    else:
        cores = usable_cores()
        if workers == "auto":
            workers = max(1, int(cores // cpus))
            if gpus and share not in (0, "auto"):
                workers = max(1, min(workers, placement.ray_slots([{"CPU": cores, "GPU": len(gpus)}],
                                                                  cpus, share, workers)))
    return placement.local_workers(workers, cores=cores, per_worker=cpus, gpus=[], per_gpu=1,
                                   where=where, what="CPU(s) (executor.num_cpus)")


def describe(cfg):
    """Where a checked executor section sends runs, for a progress line."""
    if cfg["kind"] == "local":
        gpus = cfg.get("gpus") or []
        on = f" on GPU(s) {', '.join(map(str, gpus))}" if gpus else ""
        return f"{cfg['workers']} worker(s){on}"
    where = (f"a local Ray instance ({cfg['workers']} at once)" if cfg["address"] is None
             else f"the Ray cluster at {cfg['address']}")
    return f"Ray tasks on {where}"


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
            set_threads_and_gpu(cfg["threads"], placement.worker_gpu(0, cfg.get("gpus")))
            state = job.setup(*job.setup_args)
            results = []
            for i, task in enumerate(tasks):
                results.append(job.run(state, task))
                if progress:
                    progress(i + 1, len(tasks), results[-1])
            return results
        finally:
            torch.set_num_threads(threads)  # a caller that goes on is left as it was
    return _LocalPool(min(cfg["workers"], len(tasks)), cfg["threads"],
                      cfg.get("gpus") or []).map(job, tasks, labels, progress)


class _LocalPool:
    """K spawned worker processes, one task each at a time, so a dead worker's task is known."""

    def __init__(self, workers, threads, gpus):
        self.workers, self.threads, self.gpus = workers, threads, gpus

    def map(self, job, tasks, labels, progress):
        import multiprocessing as mp
        ctx = mp.get_context(start_method(self.threads, self.gpus))
        outbox = ctx.Queue()
        inboxes = [ctx.Queue() for _ in range(self.workers)]
        procs = [ctx.Process(target=_worker_main, daemon=True, name=f"unlearn-worker-{w}",
                             args=(w, self.threads, placement.worker_gpu(w, self.gpus), job,
                                   inboxes[w], outbox))
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


def start_method(threads, gpus=()):
    """`fork` where it is safe, for a worker that starts in milliseconds; else `spawn`.

    A forked child inherits the parent's imports and memory instead of importing torch
    again (~3 s a worker). It is safe on Linux for CPU runs of one thread each while this
    process has not initialised CUDA: PyTorch then runs every parallel loop inline and
    never touches the OpenMP pool that the parent may have started (GNU OpenMP is not
    fork-safe), and CUDA cannot be used in a child forked after it was initialised.
    """
    import torch
    if (sys.platform == "linux" and threads == 1 and not gpus
            and not torch.cuda.is_initialized()):
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


def _setup_worker(threads, gpu, job):
    set_threads_and_gpu(threads, gpu)
    return job.setup(*job.setup_args)


def _worker_main(w, threads, gpu, job, inbox, outbox):
    hide_inner_bars()  # the parent shows one bar for all runs
    ok, state = _guarded(w, outbox, _setup_worker, threads, gpu, job)
    if not ok:
        return
    outbox.put(("ready", w))
    while (item := inbox.get()) is not None:
        ok, result = _guarded(w, outbox, job.run, state, item[1])
        if not ok:
            return
        outbox.put(("done", w, result))
