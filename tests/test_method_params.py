"""Method params are checked when params.yaml is validated, before any stage runs: a bad
value is one line naming `unlearn.<method>.<key>`; the stage exits 1 and writes nothing."""
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from unlearn.core.errors import UserError
from unlearn.methods import REGISTRY, available_methods, method_config, register
from unlearn.validation import validate_all_params as validate_params

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def with_value(method, key, value):
    params = copy.deepcopy(PARAMS)
    params["unlearn"][method] = {**(params["unlearn"][method] or {}), key: value}
    return params


@pytest.mark.parametrize("method, key, value, message", [
    ("salun", "mask_fraction", 0.0, "must be in (0, 1], got 0.0"),
    ("salun", "mask_fraction", 1.5, "must be in (0, 1], got 1.5"),
    ("reinit_finetune", "reinit_fraction", 0, "must be in (0, 1], got 0"),
    ("prune_reinit", "prune_fraction", 1.01, "must be in (0, 1], got 1.01"),
    ("noise_finetune", "noise_std", -0.6, "must be ≥ 0 and finite, got -0.6"),
    ("noise_finetune", "final_noise_std", float("nan"), "must be ≥ 0 and finite, got nan"),
    ("noise_finetune", "noise_scope", "every", "must be one of 'top_level', 'all_conv'"),
    ("l1_sparse", "alpha", -1e-4, "must be ≥ 0 and finite"),
    ("reinit_finetune", "grad_scale", -0.1, "must be ≥ 0 and finite"),
    ("reset_distill", "kl_weight", -2.0, "must be ≥ 0 and finite"),
    ("reset_distill", "reset_layers", ["conv1", "fc2"], "'fc2' is not a Conv2d/Linear of resnet18"),
    ("reset_distill", "reset_layers", ["bn1"], "'bn1' is not a Conv2d/Linear of resnet18"),
    ("reset_distill", "reset_layers", ["fc", "fc"], "a layer is named twice"),
    ("reset_distill", "distill_split", "test", "must be one of 'val', 'retain'"),
    ("reset_distill", "temperature", 0.0, "must be > 0 and finite"),
    ("random_label", "epochs", 0, "must be ≥ 1, got 0"),
    ("random_label", "lr", -0.01, "must be > 0 and finite"),
    ("prune_reinit", "epochs", 0.0, "must be > 0 and finite"),
    ("prune_reinit", "class_weight_power", float("inf"), "must be finite"),
    ("neggrad_plus", "alpha", 1.5, "must be in [0, 1], got 1.5"),
    ("neggrad_plus", "bn_mode", "frozen", "must be one of 'train', 'eval'"),
    ("ssd", "reference", "test", "must be one of 'retain', 'train'"),
    ("finetune", "batch_size", 0, "must be ≥ 1, got 0"),
    ("neggrad", "lam", -1.0, "must be ≥ 0 and finite"),
    ("gisa", "eps", 0.0, "must be > 0 and finite"),
    ("gisa", "importance", "fisher", "must be one of 'per_example', 'batch'"),
    ("bad_teacher", "retain_fraction", 1.5, "must be in (0, 1], got 1.5"),
    ("bad_teacher", "reduction", "sum", "must be one of 'mean', 'batchmean'"),
    ("bad_teacher_sim", "similar_fraction", 2.0, "must be in [0, 1], got 2.0"),
    ("bad_teacher_sim", "neighbours", 0, "must be ≥ 1, got 0"),
    ("contrastive", "temperature", 0.0, "must be > 0 and finite"),
    ("scrub", "forget_batch_size", 0, "must be ≥ 1, got 0"),
    ("scrub", "optimizer", "rmsprop", "must be one of 'adam', 'sgd'"),
])
def test_bad_value_is_one_line_naming_the_key(method, key, value, message):
    with pytest.raises(UserError) as err:
        validate_params(with_value(method, key, value))
    text = str(err.value)
    assert text.startswith(f"unlearn.{method}.{key}: ") and message in text
    assert "\n" not in text


@pytest.mark.parametrize("name", available_methods())
def test_registered_defaults_pass_their_own_checks(name):
    method_config(name, {})


def test_one_config_class_per_method_and_no_params_section_repeats_a_default():
    for name in available_methods():
        assert REGISTRY[name].config.__module__ == f"unlearn.methods.{name}" or \
            not REGISTRY[name].config.keys(), name   # keyless rows share NoParams
    for name, section in PARAMS["unlearn"].items():
        defaults = method_config(name, {}).to_dict()
        assert not {k for k, v in (section or {}).items() if defaults[k] == v}, name


def test_a_method_must_register_a_config_class():
    with pytest.raises(TypeError, match="config must be a Config subclass"):
        register("never_registered", {"lr": 0.1})
    assert "never_registered" not in REGISTRY


def test_unlearn_stage_exits_1_with_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(with_value("salun", "mask_fraction", 2.0)))
    proc = subprocess.run([sys.executable, "-m", "stages.unlearn", "salun"], cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                               "OMP_WAIT_POLICY": "PASSIVE"},
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: unlearn.salun.mask_fraction: must be in (0, 1], got 2.0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
