"""The params sections' classes (unlearn/core/sections.py): nested sections named by their
dotted keys, defaults that pass their own checks, unions such as `int | 'auto'`, the
required keys of params.yaml, and no heavy import."""
import copy
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from unlearn.core import sections
from unlearn.core.config import Config
from unlearn.core.errors import UserError
from unlearn.core.params import SECTIONS, params_problems

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
CLASSES = sorted({c for c in vars(sections).values()
                  if isinstance(c, type) and issubclass(c, Config) and c is not Config},
                 key=lambda c: c.__name__)


def test_every_section_has_a_class_and_every_class_is_reached():
    assert set(SECTIONS) == set(PARAMS) - {"device", "unlearn"}
    reached, todo = set(), list(SECTIONS.values())
    while todo:
        cls = todo.pop()
        reached.add(cls)
        todo += [f.default_factory for f in dataclasses.fields(cls)
                 if isinstance(f.default_factory, type)]
    assert reached == set(CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_defaults_pass_their_own_checks(cls):
    cfg = cls()
    assert cls.parse(cfg.to_dict(), "x") == cfg
    assert cls.parse({}, "x") == cfg == cls.parse(None, "x")
    assert cfg.validate() == []
    for key, _, _, note in cls.describe():
        assert note and "\n" not in note, f"{cls.__name__}.{key}: a one-line note"


def test_a_nested_key_is_named_by_its_dotted_path():
    with pytest.raises(UserError) as err:
        sections.ScoreConfig.parse({"bootstrap": {"level": 1.5}}, "score")
    assert str(err.value) == ("score.bootstrap.level: must lie strictly between 0 and 1 "
                              "(e.g. 0.95), got 1.5")
    _, problems = sections.ScoreConfig.problems(
        {"klom": {"bins": 1, "bogus": 0}, "local": 3, "bootstrap": {"scheme": "x"}}, "score")
    assert problems == [
        "score.klom.bins: must be ≥ 2, got 1",
        "score.klom.bogus: unknown key; known: bins, clip, percentile",
        "score.local: expected a mapping of params, got int 3",
        "score.bootstrap.scheme: must be one of 'bayesian', 'multinomial', got 'x'"]


def test_a_nested_section_defaults_to_its_class_and_comes_out_as_a_dict():
    cfg = sections.GenerateConfig.parse({"duplicates": {"within_train": 2}}, "generate")
    assert cfg.duplicates == sections.PlantingConfig(within_train=2)
    assert cfg.families == sections.FamiliesConfig()
    out = cfg.to_dict()
    assert out["duplicates"] == {"within_train": 2, "across_splits": 0, "reencoded": 0.0}
    assert isinstance(out["families"], dict)


def test_rules_across_the_keys_of_a_section_see_the_nested_values():
    with pytest.raises(UserError, match=r"^generate\.duplicates\.within_train: needs at least 2 "):
        sections.GenerateConfig.parse({"families": {"train": 1, "val": 1, "test": 1},
                                       "duplicates": {"within_train": 1}}, "generate")
    with pytest.raises(UserError, match=r"^generate\.families: 10800 families do not fit"):
        sections.GenerateConfig.parse({"families": {"train": 9000, "val": 900, "test": 900}},
                                      "generate")


@pytest.mark.parametrize("section, message", [
    ({"workers": "many"}, "executor.workers: expected int or 'auto', got str 'many'"),
    ({"workers": True}, "executor.workers: expected int or 'auto', got bool True"),
    ({"workers": 0}, "executor.workers: must be an integer ≥ 1 or 'auto', got 0"),
    ({"num_cpus": 0.0}, "executor.num_cpus: must be a number > 0 or 'auto', got 0.0"),
    ({"address": "nohost"}, "executor.address: expected host:port of a Ray head or null, "
                            "got 'nohost'"),
])
def test_a_key_that_also_takes_auto(section, message):
    _, problems = sections.ExecutorConfig.problems(section, "executor")
    assert problems == [message]


def test_unions_keep_what_they_were_given_and_floats_take_ints():
    cfg = sections.ExecutorConfig.parse({"workers": 3, "num_cpus": 2, "num_gpus": "auto"}, "e")
    assert (cfg.workers, cfg.num_cpus, cfg.num_gpus) == (3, 2.0, "auto")
    assert type(cfg.workers) is int and type(cfg.num_cpus) is float
    assert sections.ComputeConfig.parse({"channels_last": False}, "c").channels_last is False
    local = sections.LocalScoreConfig
    assert type(local.parse({"test_size": 2}, "l").test_size) is int     # a count, as sklearn's
    assert local.parse({"test_size": 0.25}, "l").test_size == 0.25         # a share


def test_the_code_defaults_are_the_classes():
    from unlearn.core import compute
    from unlearn.scoring import klom
    from unlearn.training.recipes import resolve_recipe, PRESETS
    assert compute.DEFAULTS == sections.ComputeConfig().to_dict()
    assert (klom.BINS, klom.CLIP, klom.PERCENTILE) == (20, 100.0, 95.0)
    assert resolve_recipe({}) == PRESETS["study"]
    assert resolve_recipe({"preset": "choi_na", "lr": 1}) == {**PRESETS["choi_na"], "lr": 1.0}


def test_params_yaml_must_spell_out_what_is_not_optional():
    params = copy.deepcopy(PARAMS)
    del params["score"]["local"]["delta"]
    del params["prepare"]["forget"]["seed"]
    del params["compute"]["threads"]               # optional: the class's default
    params["generate"]["duplicates"] = {"within_train": 1}
    assert params_problems(params) == [
        "generate.duplicates.across_splits: missing key",
        "generate.duplicates.reencoded: missing key",
        "prepare.forget.seed: missing key",
        "score.local.delta: missing key"]
    assert params_problems({**PARAMS, "score": None})[0] == "score.scorer: missing key"


def test_sections_import_no_torch_numpy_pandas_or_pil():
    """The score and report stages validate their params: importing the sections, and
    checking params.yaml as every stage does (stages.common.load_params), must not load a
    heavy library."""
    code = ("import sys, unlearn.core.sections; from stages.common import load_params; "
            "load_params(); "
            "print(sorted(m for m in ('torch', 'numpy', 'pandas', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
