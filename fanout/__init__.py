"""Fan-out: build many DVC stages at once as Ray tasks, each in a workspace of its own.

DVC runs one stage at a time in a workspace. `python -m fanout` picks the stale
stages of one family (`train_retrained@*`), has a Ray task build each one with
`dvc repro` in a throw-away copy of the project that shares the DVC cache (or a DVC
remote), and brings the results back the DVC way: the main workspace's `dvc repro`
then finds each stage in the run-cache and checks its outputs out instead of running
it. dvc.yaml, dvc.lock and the run-cache stay the record.

    plan.py    what to build and the DVC commands of the main workspace
    build.py   what a Ray task does: one stage in its own workspace
"""
