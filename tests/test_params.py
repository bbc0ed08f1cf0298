"""params.yaml validation: every bad key or type is a one-line error naming the key."""
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from unlearn.core.errors import UserError
from unlearn.core.sections import TrainConfig
from unlearn.methods import REGISTRY, available_methods, method_names
from unlearn.validation import validate_all_params as validate_params

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def with_change(dotted, value, delete=False):
    params = copy.deepcopy(PARAMS)
    *parents, last = dotted.split(".")
    node = params
    for p in parents:
        node = node[p]
    if delete:
        del node[last]
    else:
        node[last] = value
    return params


def test_shipped_params_are_valid():
    assert validate_params(copy.deepcopy(PARAMS)) is not None


@pytest.mark.parametrize("dotted, value, message", [
    ("train.epocks", 3, "train.epocks: unknown key"),
    ("train.epochs", "ten", "train.epochs: expected int, got str 'ten'"),
    ("train.lr", True, "train.lr: expected float, got bool"),
    ("train.preset", "fast", "train.preset: must be one of 'study', 'choi_na', got 'fast'"),
    ("train.weight_decay", -0.1, "train.weight_decay: must be ≥ 0 and finite, got -0.1"),
    ("retrain.seeds", [], "retrain.seeds: must list at least one seed, got []"),
    ("runs.seeds", [0, "1"], "runs.seeds: expected a list of int, got str '1' in [0, '1']"),
    ("runs.seeds", [0, 1, 0], "runs.seeds: 0 is listed twice in [0, 1, 0]"),
    ("original.seeds", [], "original.seeds: must list at least one seed, got []"),
    ("original.seeds", [0, 2, 2], "original.seeds: 2 is listed twice in [0, 2, 2]"),
    ("original.seeds", [0, 1.5], "original.seeds: expected a list of int, got float 1.5"),
    ("original.seeds", 3, "original.seeds: expected a list, got int 3"),
    ("original.seeds", [True], "original.seeds: expected a list of int, got bool True"),
    ("train.seed", 0, "train.seed: moved to original.seeds"),
    ("unlearn.magic", {}, "unlearn.magic: unknown method; registered: bad_teacher, "),
    ("unlearn.finetune", [1], "unlearn.finetune: expected a mapping of params (or {}), got list"),
    ("unlearn", {}, "unlearn: no method listed; e.g. `finetune: {}`"),
    ("unlearn.seeds", [0], "unlearn.seeds: moved to runs.seeds"),
    ("unlearn.methods", ["finetune"], "unlearn.methods: moved to the keys of `unlearn`"),
    ("unlearn.retrain.seed_offset", 0, "unlearn.retrain.seed_offset: seeds [1, 2, 3, 4] are also "
                                       "reference seeds in retrain.seeds"),
    ("unlearn.finetune.lr", "fast", "unlearn.finetune.lr: expected float, got str 'fast'"),
    ("unlearn.finetune.lrr", 0.1, "unlearn.finetune.lrr: unknown key"),
    ("score.scorer", "mine", "score.scorer: must be one of 'local', 'official', 'both'"),
    ("data.image_size", 3.5, "data.image_size: expected int, got float"),
    ("score.bootstrap.resamples", 0, "score.bootstrap.resamples: must be ≥ 1, got 0"),
    ("score.bootstrap.resamples", 1.5, "score.bootstrap.resamples: expected int, got float"),
    ("score.bootstrap.level", 1.0, "score.bootstrap.level: must lie strictly between 0 and 1"),
    ("score.bootstrap.level", -0.5, "score.bootstrap.level: must lie strictly between 0 and 1"),
    ("score.bootstrap.min_runs", 1, "score.bootstrap.min_runs: must be ≥ 2, got 1"),
    ("score.bootstrap.scheme", "jackknife",
     "score.bootstrap.scheme: must be one of 'bayesian', 'multinomial'"),
    ("score.klom.bins", 1, "score.klom.bins: must be ≥ 2, got 1"),
    ("score.klom.clip", 0.0, "score.klom.clip: must be > 0 and finite, got 0.0"),
    ("score.klom.percentile", 101.0, "score.klom.percentile: must lie in [0, 100]"),
    ("bogus", 1, "bogus: unknown key"),
    ("executor.kind", "slurm", "executor.kind: must be one of 'local', 'ray', got 'slurm'"),
    ("executor.workers", 0, "executor.workers: must be an integer ≥ 1 or 'auto', got 0"),
    ("executor.workers", 4096, "executor.workers: 4096 workers × 1 thread(s) (compute.threads) "
                               "need 4096 cores; this machine has"),
    ("compute.threads", 0, "compute.threads: must be ≥ 1, got 0"),
    ("compute.precision", "fp8", "compute.precision: must be one of 'fp32', 'bf16', 'auto', "
                                 "got 'fp8'"),
    ("compute.deterministic", "yes", "compute.deterministic: expected bool, got str 'yes'"),
    ("compute.cudnn_benchmark", True, "compute.cudnn_benchmark: true lets cuDNN choose"),
    ("executor.workers_per_gpu", 0, "executor.workers_per_gpu: must be an integer ≥ 1 or 'auto'"),
    ("executor.num_gpus", "many", "executor.num_gpus: expected float or 'auto', got str 'many'"),
    ("executor.num_gpus", -1, "executor.num_gpus: must be a number ≥ 0 or 'auto', got -1"),
    ("generate.families.val", 0, "generate.families.val: must be ≥ 1, got 0"),
    ("prepare.forget.count", None, "prepare.forget.count: set exactly one of count and fraction "
                                   "for random mode (got count=None, fraction=None)"),
    ("data.test_split", "val", "data.test_split: 'val' is selection_split too; they must name "
                               "different CSVs"),
])
def test_bad_param_is_named(dotted, value, message):
    with pytest.raises(UserError) as err:
        validate_params(with_change(dotted, value))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_key_is_named():
    with pytest.raises(UserError, match=r"retrain\.seeds: missing key"):
        validate_params(with_change("retrain.seeds", None, delete=True))


def test_stage_exits_non_zero_with_one_line_and_writes_nothing(tmp_path):
    bad = with_change("unlearn.magic", {})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(bad))
    proc = subprocess.run([sys.executable, "-m", "stages.check_params"], cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: unlearn.magic: unknown method; registered: "
        + ", ".join(sorted(__import__("unlearn.methods", fromlist=["x"]).available_methods()))]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_too_many_workers_stop_the_unlearning_stage_before_it_runs(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(with_change("executor.workers", 4096)))
    proc = subprocess.run([sys.executable, "-m", "stages.unlearn", "finetune"], cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("error: executor.workers: 4096 workers")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_a_non_boolean_deterministic_stops_a_training_stage_before_it_runs(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(with_change("compute.deterministic", 1)))
    proc = subprocess.run([sys.executable, "-m", "stages.train_original", "0"], cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: compute.deterministic: expected bool, got int 1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_unknown_method_on_the_command_line(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    proc = subprocess.run([sys.executable, "-m", "stages.unlearn", "nope"], cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "unlearn.nope: not listed under `unlearn` in params.yaml" in proc.stderr
    assert not (tmp_path / "models").exists()


def test_the_train_section_knows_every_recipe_key():
    from unlearn.training.recipes import RECIPE_KEYS
    assert set(TrainConfig.keys()) - {"preset", "arch"} == set(RECIPE_KEYS)


def test_method_names_are_the_registered_names_and_their_modules():
    """The registry lists the methods by module file, without importing them."""
    assert method_names() == available_methods()
    for name in method_names():
        assert REGISTRY[name].fn.__module__ == f"unlearn.methods.{name}"


def test_a_method_registered_outside_its_own_module_is_refused():
    from unlearn.methods import register
    fake = type(sys)("unlearn.methods.finetune_copy")
    exec("def run(model, ctx, cfg):\n    return model", fake.__dict__)
    with pytest.raises(ValueError, match="lives in the module of its own name"):
        register("another_name")(fake.run)
    assert "another_name" not in REGISTRY


def test_a_stage_validates_params_without_importing_any_method():
    """The checks every stage runs import no method module, so a stage depends only on the
    methods it runs (tests/test_stage_deps.py checks the deps); method values are checked by
    the method's own stage, and by `python -m tools.check_params` (make repro) for all."""
    code = ("import sys, yaml; from unlearn.core.params import validate_params; "
            "validate_params(yaml.safe_load(open('params.yaml'))); "
            "print(sorted(m for m in sys.modules if m.startswith('unlearn.methods')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_check_params_names_a_bad_method_value_in_one_line(tmp_path):
    bad = copy.deepcopy(PARAMS)
    bad["unlearn"]["salun"] = {"mask_fraction": 2.0}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(bad))
    proc = subprocess.run([sys.executable, "-m", "tools.check_params"], cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["error: unlearn.salun.mask_fraction: must be in (0, 1], got 2.0"]


def test_a_data_root_not_laid_out_as_mufac_names_its_first_missing_file(tmp_path):
    from unlearn.validation import check_data_root
    root = tmp_path / "copy"
    root.mkdir()
    for name in ("custom_train_dataset.csv", "train_images", "custom_val_dataset.csv"):
        (root / name).mkdir() if name.endswith("images") else (root / name).write_text("")
    with pytest.raises(UserError, match=rf"^data.root: {root}/val_images missing; {root} is "
                                        r"not laid out as MUFAC \(docs/dataset.md\)$"):
        check_data_root(root)
