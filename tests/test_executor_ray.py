"""`executor.kind: ray` on a real Ray cluster on 127.0.0.1 (conftest.ray_cluster): params
checks, tasks spread over the nodes with one set-up per worker process, a killed worker
retried or reported by its task, a local instance for `address: null`, and no ray import
on the local path."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from unlearn.core.errors import UserError
from unlearn.core.executor import Job, check_executor, run_all, usable_cores

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("cfg, key", [
    ({"kind": "ray", "address": "localhost"}, "executor.address"),
    ({"kind": "ray", "address": "h:99999"}, "executor.address"),
    ({"kind": "ray", "address": 6379}, "executor.address"),
    ({"kind": "ray", "num_cpus": 0}, "executor.num_cpus"),
    ({"kind": "ray", "num_cpus": "many"}, "executor.num_cpus"),
    ({"kind": "ray", "num_gpus": -1}, "executor.num_gpus"),
    ({"kind": "ray", "max_retries": -1}, "executor.max_retries"),
    ({"kind": "local", "max_retries": True}, "executor.max_retries"),   # checked for any kind
    ({"kind": "ray", "workers": 1, "num_cpus": usable_cores() + 1}, "executor.workers"),
    ({"kind": "ray", "gpus": 1}, "executor.gpus"),
])
def test_bad_ray_params_name_the_key(cfg, key):
    with pytest.raises(UserError, match=rf"^{key}: "):
        check_executor(cfg)


def test_ray_keys_resolve_with_defaults():
    cfg = check_executor({"kind": "ray", "address": "10.0.0.1:6379"}, threads=2)
    # a cluster's GPUs are known once joined: num_gpus auto is resolved then
    assert (cfg["num_cpus"], cfg["num_gpus"], cfg["max_retries"]) == (2, "auto", 3)
    assert check_executor({"kind": "ray", "num_gpus": 0.25})["num_gpus"] == 0.25
    # a local instance for CPU runs: no GPU a run
    assert check_executor({"kind": "ray"}, device="cpu")["num_gpus"] == 0


def test_the_local_executor_never_imports_ray():
    code = ("import sys; from unlearn.core.executor import Job, check_executor, run_all; "
            "cfg = check_executor({'kind': 'local', 'workers': 1, 'address': None}); "
            "assert run_all(Job(setup=dict, run=lambda s, x: x), [1, 2], cfg) == [1, 2]; "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


# Job pieces. The Ray workers get this module by value (it is not an importable package).
def _setup(marker_dir):
    return {"pid": os.getpid(), "marker_dir": marker_dir}


def _where(state, x):
    import time

    import ray
    import torch
    time.sleep(0.3)   # long enough for the tasks to spread over both nodes
    return {"x": x, "pid": os.getpid(), "setup_pid": state["pid"],
            "node": ray.get_runtime_context().get_node_id(), "threads": torch.get_num_threads()}


def _die_once_on_two(state, x):
    marker = Path(state["marker_dir"]) / f"attempted-{x}"
    if x == 2 and not marker.exists():
        marker.write_text("")
        os.kill(os.getpid(), signal.SIGKILL)   # what `kill -9` or the OOM killer does mid-run
    return x * 10


def _refuse_one(state, x):
    if x == 1:
        raise UserError("unlearn.x.lr: must be > 0")
    return x


@pytest.fixture
def ray_cfg(ray_cluster):
    import ray.cloudpickle
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return lambda **kw: check_executor({"kind": "ray", "address": ray_cluster.address, **kw})


def test_tasks_spread_over_the_nodes_with_one_setup_per_worker(ray_cfg, tmp_path):
    job = Job(setup=_setup, run=_where, setup_args=(str(tmp_path),))
    out = run_all(job, list(range(6)), ray_cfg())
    assert [r["x"] for r in out] == list(range(6))
    assert len({r["node"] for r in out}) == 2
    assert all(r["pid"] == r["setup_pid"] for r in out)   # the state was set up in that worker
    assert {r["threads"] for r in out} == {1}             # compute.threads, set per task


def test_a_killed_worker_is_retried_by_ray(ray_cfg, tmp_path):
    job = Job(setup=_setup, run=_die_once_on_two, setup_args=(str(tmp_path),))
    assert run_all(job, [0, 1, 2, 3], ray_cfg(max_retries=1)) == [0, 10, 20, 30]
    assert (tmp_path / "attempted-2").exists()


def test_a_killed_worker_without_retries_fails_naming_its_task(ray_cfg, tmp_path):
    job = Job(setup=_setup, run=_die_once_on_two, setup_args=(str(tmp_path),),
              labels=[f"seed {x}" for x in range(4)])
    with pytest.raises(UserError, match=r"^executor: a Ray worker died \(\w+\) while running "
                                        r"seed 2, no retries; nothing was written"):
        run_all(job, [0, 1, 2, 3], ray_cfg(max_retries=0))


def test_a_user_error_in_a_task_names_the_task(ray_cfg, tmp_path):
    job = Job(setup=_setup, run=_refuse_one, setup_args=(str(tmp_path),),
              labels=[f"seed {x}" for x in range(3)])
    with pytest.raises(UserError, match=r"^seed 1: unlearn.x.lr: must be > 0$"):
        run_all(job, [0, 1, 2], ray_cfg())


def test_a_task_no_node_can_hold_fails_naming_the_key(ray_cfg, tmp_path):
    job = Job(setup=_setup, run=_where, setup_args=(str(tmp_path),))
    with pytest.raises(UserError, match=r"^executor.num_gpus: each task asks for 1 GPU\(s\); "
                                        r"no node of the Ray cluster at 127.0.0.1:\d+ has"):
        run_all(job, [0], ray_cfg(num_gpus=1))


@pytest.mark.skipif(usable_cores() < 2, reason="needs two cores for two tasks at once")
def test_address_null_starts_and_stops_a_ray_instance_here(ray_cfg, tmp_path):
    job = Job(setup=_setup, run=_where, setup_args=(str(tmp_path),))
    cfg = check_executor({"kind": "ray", "address": None, "workers": 2})
    out = run_all(job, [0, 1], cfg)
    assert [r["x"] for r in out] == [0, 1]
    import ray
    assert not ray.is_initialized()


def _gpu_of(state, x):
    import time

    import ray
    time.sleep(0.2)
    return {"pid": os.getpid(), "ray_gpus": [str(g) for g in ray.get_gpu_ids()],
            "visible": os.environ.get("CUDA_VISIBLE_DEVICES")}


@pytest.mark.skipif(usable_cores() < 2, reason="needs two cores for two slots at once")
def test_each_ray_slot_keeps_the_gpu_ray_gave_it(ray_cfg, monkeypatch, tmp_path):
    """Ray counts GPUs as resources and sets CUDA_VISIBLE_DEVICES whether or not they are
    real, so two made-up GPUs show the assignment: every task a slot runs sees the one
    GPU Ray gave that slot, and the slots have different ones."""
    from unlearn.core import executor
    monkeypatch.setattr(executor, "visible_gpus", lambda: 2)
    cfg = check_executor({"kind": "ray", "address": None, "workers": 2, "num_gpus": 1},
                         device="cuda")
    out = run_all(Job(setup=_setup, run=_gpu_of, setup_args=(str(tmp_path),)), list(range(8)), cfg)
    by_process = {}
    for r in out:
        assert r["visible"] == ",".join(r["ray_gpus"])   # torch there would see just that GPU
        by_process.setdefault(r["pid"], set()).add(r["visible"])
    assert all(len(gpus) == 1 for gpus in by_process.values())
    assert set().union(*by_process.values()) == {"0", "1"}
