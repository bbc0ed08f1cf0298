"""Build the stale stages of one family side by side, then take them into this workspace.

Not a DVC stage: a command around `dvc repro` for what DVC cannot do itself, running
many stages of a workspace at once (fanout/ says how). By default it builds the stale
`train_retrained@*` stages on the Ray instance or cluster of params' `executor` section
(`address`, `num_cpus`, `num_gpus`, `max_retries`; whatever its `kind`); with `--local`,
in `executor.workers` processes on this machine, no Ray needed (what `make repro` does
for the training and unlearning stages):

    python -m fanout                          # tasks share this workspace's DVC cache
    python -m fanout --remote                 # tasks use the default DVC remote
    python -m fanout 'train_retrained@*' --scratch /scratch/fanout
    python -m fanout --local 'train_*'        # this machine's cores, one stage on each

Steps: `dvc repro` of the stages they depend on (here), `dvc status` to find the stale
ones, one task per stale stage (fanout/build.py), then `dvc repro` of them here,
which takes each from the run-cache instead of training. A failed or killed task
leaves this workspace as it was; running the command again builds what is still stale.
A task's stage runs its own runs one at a time (executor.workers: 1 in its workspace):
the fan-out is the parallelism. `executor` is in no stage's params, so this changes no
result and no run-cache key.
"""
import argparse
import time

from fanout import plan
from fanout.build import StageTask, build_stage, open_source
from stages.common import entry_point, load_params
from unlearn.core import compute
from unlearn.core.errors import UserError
from unlearn.core.executor import Job, check_executor, describe, run_all

DEFAULT = ["train_retrained@*"]


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("patterns", nargs="*", default=DEFAULT,
                        help="stage names or shell patterns (default: train_retrained@*)")
    parser.add_argument("--remote", action="store_true",
                        help="move inputs and results through the default DVC remote "
                             "(nodes without a shared filesystem)")
    parser.add_argument("--scratch", help="folder for the task workspaces on each node "
                                          "(default: the node's temporary folder)")
    parser.add_argument("--local", action="store_true",
                        help="build in executor.workers processes on this machine, not on Ray")
    args = parser.parse_args(argv)
    if args.local and args.remote:
        raise UserError("fanout: --remote is for Ray nodes without this workspace's "
                        "filesystem; --local tasks share its DVC cache")
    params = load_params()
    threads = compute.check_compute(params.get("compute"))["threads"]
    kind = "local" if args.local else "ray"
    executor = check_executor({**params.get("executor", {}), "kind": kind}, threads=threads,
                              device=params["device"])
    root = "."

    todo = plan.make_plan(root, args.patterns)
    parents = sorted({p for t in todo.targets for p in todo.parents[t]})
    if parents:  # their outputs are the tasks' inputs: build them here first (their output
        plan.dvc(root, "repro", *parents, echo=True)   # shown: e.g. the params check's errors
    if args.remote:
        remote = plan.default_remote(root)
        if parents:  # (a bare `dvc push` would push everything)
            print(f"fanout: pushing the inputs to DVC remote {remote!r}", flush=True)
            plan.dvc(root, "push", *parents)
    stale = plan.stale(root, todo.targets)
    if not stale:
        print(f"fanout: {len(todo.targets)} stage(s) selected, none stale")
        return
    print(f"fanout: {len(stale)} of {len(todo.targets)} stage(s) stale, building them as "
          f"{describe(executor)}", flush=True)
    job = Job(setup=open_source, run=build_stage, labels=stale,
              setup_args=(plan.snapshot(root), None if args.remote else todo.cache_dir,
                          args.scratch))
    tasks = [StageTask(stage, todo.parents[stage]) for stage in stale]
    start = time.time()

    def progress(done, total, r):
        print(f"fanout: [{done}/{total}] {r['stage']} built on {r['host']} in "
              f"{r['task_seconds']:.1f} s (its dvc repro {r['seconds']:.1f} s)", flush=True)

    run_all(job, tasks, executor, progress)
    print(f"fanout: {len(stale)} stage(s) built in {time.time() - start:.1f} s; taking them "
          "into this workspace from the run-cache", flush=True)
    start = time.time()
    plan.forget_lock_entries(root, stale)
    out = plan.dvc(root, "repro", *(["--pull"] if args.remote else []), *stale)
    rerun = [s for s in plan.ran_stages(out) if s in stale]
    if rerun:  # correct outputs, but trained here: the run-cache did not have them
        raise UserError(f"fanout: {', '.join(rerun)} ran again here instead of coming from "
                        "the run-cache; check that the tasks' cache or remote is this workspace's")
    print(f"fanout: done; {', '.join(stale)} restored in {time.time() - start:.1f} s, "
          "dvc.lock updated")


if __name__ == "__main__":
    main()
