"""Which GPU each run gets and how many go at once, on made-up machines (no GPU needed):
unlearn/core/placement.py's rules, and check_executor applying them to a faked GPU count."""
import pytest

from unlearn.core import executor, placement
from unlearn.core.errors import UserError
from unlearn.core.executor import check_executor, start_method


@pytest.mark.parametrize("device, visible, gpus", [
    ("cpu", 4, []), ("auto", 0, []), ("auto", 2, [0, 1]), ("cuda", 3, [0, 1, 2]),
    ("cuda:1", 2, [1]),      # an explicit index pins every run to that GPU
])
def test_gpus_in_use(device, visible, gpus):
    assert placement.gpus_in_use(device, visible) == gpus


@pytest.mark.parametrize("device, visible, message", [
    ("cuda", 0, "device: 'cuda' asked for, but no CUDA device is available"),
    ("cuda:2", 2, "device: 'cuda:2' asked for, but this machine has 2 GPU(s) (cuda:0..cuda:1)"),
    ("tpu", 1, "device: 'tpu' unknown"),
])
def test_bad_devices_are_named(device, visible, message):
    with pytest.raises(UserError, match=f"^{message}".replace("(", r"\(").replace(")", r"\)")):
        placement.gpus_in_use(device, visible)


def test_workers_go_round_robin_over_the_gpus_in_use():
    assert [placement.worker_gpu(w, [0, 1]) for w in range(5)] == [0, 1, 0, 1, 0]
    assert [placement.worker_gpu(w, [3]) for w in range(3)] == [3, 3, 3]
    assert placement.worker_gpu(0, []) is None      # CPU runs: no GPU, no CUDA context


@pytest.mark.parametrize("cores, threads, gpus, per_gpu, auto", [
    (2, 1, [], 4, 2),             # CPU: cores / threads
    (16, 1, [0], 4, 4),           # one GPU: workers_per_gpu, not 16 CUDA contexts
    (16, 1, [0, 1], 4, 8),
    (16, 4, [0, 1, 2], 4, 4),     # capped by cores / threads
    (16, 1, [1], 2, 2),           # pinned to one GPU of several
])
def test_auto_workers(cores, threads, gpus, per_gpu, auto):
    assert placement.local_workers("auto", cores=cores, per_worker=threads, gpus=gpus,
                                   per_gpu=per_gpu) == auto


def test_more_workers_on_a_gpu_than_its_limit_is_refused():
    assert placement.local_workers(8, cores=16, per_worker=1, gpus=[0, 1], per_gpu=4) == 8
    with pytest.raises(UserError, match=r"^executor.workers: 9 workers on 2 GPU\(s\) put 5 on "
                                        r"one GPU, more than executor.workers_per_gpu = 4$"):
        placement.local_workers(9, cores=16, per_worker=1, gpus=[0, 1], per_gpu=4)


@pytest.mark.parametrize("num_gpus, device, gpus, expect", [
    ("auto", "auto", 1, 0.25), ("auto", "cuda", 2, 0.25), ("auto", "cpu", 2, 0),
    ("auto", "auto", 0, 0), (0, "cpu", 4, 0), (0.5, "auto", 1, 0.5), (2, "cuda", 4, 2),
])
def test_ray_gpus_per_run(num_gpus, device, gpus, expect):
    assert placement.ray_num_gpus(num_gpus, device=device, gpus=gpus, per_gpu=4) == expect


@pytest.mark.parametrize("num_gpus, device, gpus, message", [
    (0, "auto", 1, "executor.num_gpus: 0 hides the 1 GPU(s) there from the Ray runs"),
    (0.5, "cpu", 1, "executor.num_gpus: 0.5 reserves GPUs for runs on device: cpu"),
    (1.5, "cuda", 2, "executor.num_gpus: a run takes a fraction of one GPU or whole GPUs"),
])
def test_ray_gpu_settings_that_would_misplace_runs_are_refused(num_gpus, device, gpus, message):
    with pytest.raises(UserError) as err:
        placement.ray_num_gpus(num_gpus, device=device, gpus=gpus, per_gpu=4)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_ray_slots_count_what_each_node_holds():
    nodes = [{"CPU": 16, "GPU": 1}, {"CPU": 2, "GPU": 2}, {"CPU": 8}]
    assert placement.ray_slots(nodes, 1, 0.25, 100) == 4 + 2 + 0
    assert placement.ray_slots(nodes, 1, 0, 100) == 26
    assert placement.ray_slots(nodes, 1, 0, 5) == 5          # never more than the tasks


@pytest.fixture
def two_gpus(monkeypatch):
    """This machine as one with two GPUs, for check_executor's count."""
    monkeypatch.setattr(executor, "visible_gpus", lambda: 2)
    monkeypatch.setattr(executor, "usable_cores", lambda: 16)


def test_check_executor_spreads_auto_workers_over_the_gpus(two_gpus):
    cfg = check_executor({}, device="auto")
    assert (cfg["workers"], cfg["gpus"]) == (2 * placement.AUTO_WORKERS_PER_GPU, [0, 1])
    assert check_executor({"workers_per_gpu": 1}, device="cuda")["workers"] == 2
    pinned = check_executor({}, device="cuda:1")
    assert (pinned["workers"], pinned["gpus"]) == (placement.AUTO_WORKERS_PER_GPU, [1])
    cpu = check_executor({}, device="cpu")
    assert (cpu["workers"], cpu["gpus"]) == (16, [])
    assert start_method(1, cpu["gpus"]) == "fork"      # CPU runs: no CUDA in the workers
    assert start_method(1, [0]) == "spawn"


def test_check_executor_refuses_crowding_a_gpu(two_gpus):
    with pytest.raises(UserError, match=r"^executor.workers: 12 workers on 1 GPU\(s\) put 12"):
        check_executor({"workers": 12, "workers_per_gpu": 8}, device="cuda:0")
    with pytest.raises(UserError, match=r"^executor.workers_per_gpu: must be an integer ≥ 1"):
        check_executor({"workers_per_gpu": 0}, device="cuda")


def test_check_executor_gives_local_ray_runs_the_gpus(two_gpus):
    cfg = check_executor({"kind": "ray"}, device="auto")
    assert cfg["num_gpus"] == 1 / placement.AUTO_WORKERS_PER_GPU
    assert cfg["workers"] == 2 * placement.AUTO_WORKERS_PER_GPU    # what the GPUs hold
    assert check_executor({"kind": "ray"}, device="cpu")["num_gpus"] == 0
    with pytest.raises(UserError, match=r"^executor.num_gpus: 0 hides the 2 GPU\(s\)"):
        check_executor({"kind": "ray", "num_gpus": 0}, device="auto")
