"""The local executor: params checks, results independent of the number of workers, a
dead worker named by its task, and the unlearning job run in workers."""
import os
import signal

from pathlib import Path

import pytest
import torch

from unlearn.core import compute
from unlearn.core.compute import check_compute, resolve
from unlearn.data.splits import Split, save_split
from unlearn.core.errors import UserError
from unlearn.core.executor import Job, check_executor, run_all, usable_cores
from unlearn.core.progress import inner_bars_on
from unlearn.methods import method_config
from unlearn.training.model import build_model, save_checkpoint
from unlearn.runner import UnlearnTask, unlearning_job


@pytest.mark.parametrize("cfg, threads, key", [
    ({"kind": "slurm"}, 1, "executor.kind"),
    ({"workers": 0}, 1, "executor.workers"),
    ({"workers": "many"}, 1, "executor.workers"),
    ({"workers": True}, 1, "executor.workers"),
    ({"workers": usable_cores() + 1}, 1, "executor.workers"),
    ({"workers": 1}, usable_cores() + 1, "executor.workers"),
    ({"threads": 2}, 1, "executor.threads"),   # threads live in `compute`
])
def test_bad_executor_params_name_the_key(cfg, threads, key):
    with pytest.raises(UserError, match=rf"^{key}: "):
        check_executor(cfg, threads=threads)


@pytest.mark.parametrize("cfg, key", [
    ({"threads": 0}, "compute.threads"), ({"precision": "fp16"}, "compute.precision"),
    ({"channels_last": "yes"}, "compute.channels_last"), ({"compile": "auto"}, "compute.compile"),
    ({"eval_batch_size": 0}, "compute.eval_batch_size"), ({"amp": True}, "compute.amp"),
    ({"deterministic": "yes"}, "compute.deterministic"), ({"deterministic": 1}, "compute.deterministic"),
    ({"cudnn_benchmark": True}, "compute.cudnn_benchmark"),   # with deterministic: true
    ("fast", "compute"),
])
def test_bad_compute_params_name_the_key(cfg, key):
    with pytest.raises(UserError, match=rf"^{key}: "):
        check_compute(cfg)


def test_compute_auto_is_plain_fp32_on_the_cpu_and_fast_on_cuda(monkeypatch):
    cpu = resolve({}, torch.device("cpu"))
    assert (cpu["precision"], cpu["channels_last"], cpu["cudnn_benchmark"]) == ("fp32", False, False)
    monkeypatch.setattr(compute, "gpu_capability", lambda d: ("NVIDIA H200", (9, 0)))
    gpu = resolve({}, torch.device("cuda"))
    # deterministic by default: no cuDNN autotuning unless asked to give that up
    assert (gpu["precision"], gpu["channels_last"], gpu["cudnn_benchmark"]) == ("bf16", True, False)
    assert resolve({"deterministic": False}, torch.device("cuda"))["cudnn_benchmark"] is True


def test_bf16_on_a_gpu_without_it_is_refused_and_auto_falls_back(monkeypatch):
    monkeypatch.setattr(compute, "gpu_capability", lambda d: ("Tesla V100", (7, 0)))
    assert resolve({}, torch.device("cuda"))["precision"] == "fp32"
    with pytest.raises(UserError, match=r"^compute.precision: bf16 needs a GPU of compute "
                                        r"capability 8.0 or newer; cuda \(Tesla V100\) has 7.0"):
        resolve({"precision": "bf16"}, torch.device("cuda"))


def test_bf16_on_a_cpu_without_native_kernels_is_refused(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(compute, "Path", lambda p: cpuinfo if p == "/proc/cpuinfo" else Path(p))
    cpuinfo.write_text("flags : fpu sse2 avx2 fma\n")          # an AVX2 machine
    with pytest.raises(UserError, match=r"^compute.precision: bf16 on the CPU needs native "):
        resolve({"precision": "bf16"}, torch.device("cpu"))
    cpuinfo.write_text("flags : fpu sse2 avx2 avx512f avx512_bf16 amx_bf16\n")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")          # the default pin
    assert not compute.cpu_bf16_native()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "ALL")
    assert resolve({"precision": "bf16"}, torch.device("cpu"))["precision"] == "bf16"


def test_auto_workers_fill_the_cores():
    assert check_executor({"workers": "auto"}, threads=1)["workers"] == usable_cores()
    assert check_executor({})["workers"] == usable_cores()


# Top-level, picklable job pieces for the pool (spawned workers import this module).
def _setup(offset=0):
    return {"offset": offset, "pid": os.getpid()}


def _square(state, x):
    return {"value": x * x + state["offset"], "threads": torch.get_num_threads(),
            "inner_bars": inner_bars_on()}


def _die_on_three(state, x):
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # what `kill -9` does to a worker mid-run
    return x


def _refuse_two(state, x):
    if x == 2:
        raise UserError("unlearn.x.lr: must be > 0")
    return x


def test_pool_returns_results_in_task_order_with_the_set_threads():
    job = Job(setup=_setup, run=_square, setup_args=(1,))
    out = run_all(job, list(range(6)), check_executor({"workers": 2}, threads=1))
    assert [r["value"] for r in out] == [x * x + 1 for x in range(6)]
    assert {r["threads"] for r in out} == {1}
    # one bar for all runs: the workers show none of their own (TQDM_DISABLE set in a
    # forked worker did not stop them); this process keeps its bars
    assert not any(r["inner_bars"] for r in out) and inner_bars_on()


@pytest.mark.skipif(usable_cores() < 2, reason="needs two cores for two workers")
def test_a_killed_worker_stops_the_map_naming_its_seed():
    job = Job(setup=_setup, run=_die_on_three, labels=[f"seed {x}" for x in range(5)])
    with pytest.raises(UserError, match=r"^executor: worker \d died \(exit code -9\) while "
                                        r"running seed 3; nothing was written"):
        run_all(job, list(range(5)), check_executor({"workers": 2}))


@pytest.mark.skipif(usable_cores() < 2, reason="needs two cores for two workers")
def test_a_user_error_in_a_worker_names_the_task():
    job = Job(setup=_setup, run=_refuse_two, labels=[f"seed {x}" for x in range(4)])
    with pytest.raises(UserError, match=r"^seed 2: unlearn.x.lr: must be > 0$"):
        run_all(job, list(range(4)), check_executor({"workers": 2}))


@pytest.fixture(scope="module")
def tiny_inputs(tmp_path_factory):
    """A prepared folder of 8-px images and an original checkpoint, as the stages write them."""
    root = tmp_path_factory.mktemp("executor")
    g = torch.Generator().manual_seed(0)
    for name, n in (("retain", 40), ("forget", 10), ("val", 12), ("test", 12)):
        images = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g)
        labels = torch.randint(0, 8, (n,), generator=g)
        save_split(Split(images, labels, [f"{name}{i}" for i in range(n)], ["p"] * n),
                   root / f"{name}.pt")
    torch.manual_seed(0)
    save_checkpoint(build_model(8), root / "model.pt", arch="resnet18", num_classes=8)
    return root


@pytest.mark.skipif(usable_cores() < 2, reason="needs two cores for two workers")
def test_unlearning_runs_are_byte_identical_for_one_and_two_workers(tiny_inputs):
    cfg = method_config("finetune", {"batch_size": 16})
    tasks = [UnlearnTask("finetune", cfg, seed, keep_model=seed == 0) for seed in (0, 1, 2)]
    job = unlearning_job(tiny_inputs, tiny_inputs / "model.pt", "cpu")
    one = run_all(job, tasks, check_executor({"workers": 1}))
    two = run_all(job, tasks, check_executor({"workers": 2}))
    for a, b in zip(one, two):
        assert a["seed"] == b["seed"]
        for split in a["logits"]:
            assert torch.equal(a["logits"][split], b["logits"][split]), (a["seed"], split)
    assert all(torch.equal(v, two[0]["state_dict"][k]) for k, v in one[0]["state_dict"].items())
    assert one[1]["state_dict"] is None
    # different seeds are different runs
    assert not torch.equal(one[0]["logits"]["forget"], one[1]["logits"]["forget"])
