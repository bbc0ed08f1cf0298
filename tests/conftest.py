"""Shared fixtures. Fixture names carry their topic as a prefix (tiny_mufac_*)."""
import shutil

import unlearn.core  # noqa: F401  (first: pins the CPU kernels before torch loads)

import pytest

TINY_MUFAC_CFG = {
    "seed": 7, "out": "data/synthetic",
    "families": {"train": 4, "val": 2, "test": 2},
    "persons_per_family": [2, 3], "photos_per_person": [2, 3], "label_noise": 0.1,
}


# The slowest test files, collected first in this order so that the xdist workers start on
# them and the run does not end on one long file (measured with --durations): the first
# builds the shared tiny pipeline while the second, which needs none, runs beside it.
SLOW_FIRST = ["test_pipeline.py", "test_reproduce_lock.py", "test_ray_pipeline.py",
              "test_remote.py", "test_experiments.py", "test_parallel_stage.py",
              "test_fanout_local.py", "test_executor_ray.py", "test_readme_commands.py",
              "test_bad_values.py", "test_presets.py"]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))   # stable: in-file order kept


@pytest.fixture(scope="session", autouse=True)
def tiny_pipeline_build_folder(tmp_path_factory):
    """The tiny pipeline (tests/pipeline_repo.py) is built once per run: in the temporary
    folder that all of this run's xdist workers share (pytest's basetemp, or its parent
    under xdist, where each worker has a folder of its own)."""
    import os

    import pipeline_repo
    base = tmp_path_factory.getbasetemp()
    pipeline_repo.set_build_folder(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)


@pytest.fixture
def tiny_mufac_cfg():
    """`generate` params for a dataset of about 60 images (a fresh copy per test)."""
    return {**TINY_MUFAC_CFG, "families": dict(TINY_MUFAC_CFG["families"])}


@pytest.fixture(scope="session")
def tiny_mufac(tmp_path_factory):
    """Root of a tiny generated MUFAC-layout dataset, shared by the session: do not modify."""
    from unlearn.data.synthetic import generate
    root = tmp_path_factory.mktemp("tiny_mufac") / "custom_korean_family_dataset_resolution_128"
    generate(root, TINY_MUFAC_CFG, progress=False)
    return root


@pytest.fixture
def tiny_mufac_copy(tiny_mufac, tmp_path):
    """A private copy of the tiny dataset that a test may corrupt."""
    root = tmp_path / "mufac" / tiny_mufac.name
    shutil.copytree(tiny_mufac, root)
    return root


@pytest.fixture(scope="session")
def ray_cluster():
    """A Ray cluster on 127.0.0.1 (a head and a worker node, one CPU each), shared by the
    session and stopped at its end (tests/ray_cluster.py). Sets the environment that keeps
    this process's Ray, and the stages the tests start, on loopback."""
    import importlib.util
    import os
    if importlib.util.find_spec("ray") is None:  # not imported here: the environment comes first
        pytest.skip("ray is not installed (make test installs requirements-ray.txt)")
    from ray_cluster import ENV, LoopbackCluster
    cluster = LoopbackCluster()
    names = [*ENV, "RAY_TMPDIR"]
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(ENV)
    os.environ["RAY_TMPDIR"] = str(cluster.tmp)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
