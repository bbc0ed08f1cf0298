"""dvc.yaml and params.yaml stay in step with the method registry."""
from pathlib import Path

import yaml

from unlearn.methods import available_methods

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_report_depends_on_every_listed_method():
    deps = {d for d in DVC["stages"]["report"]["deps"] if d.startswith("metrics/")}
    assert deps == {f"metrics/{m}.json" for m in PARAMS["unlearn"]["methods"]}


def test_every_registered_method_runs_by_default_with_a_params_section():
    assert sorted(PARAMS["unlearn"]["methods"]) == available_methods()
    for method in available_methods():
        assert method in PARAMS["unlearn"], f"params.yaml lacks unlearn.{method}"


def test_every_method_module_is_a_dependency_of_its_stage():
    deps = DVC["stages"]["unlearn"]["do"]["deps"]
    assert "unlearn/methods/${item}.py" in deps
    for dep in deps:
        if "${" not in dep and dep.startswith(("unlearn/", "stages/")):
            assert (ROOT / dep).is_file(), dep   # a renamed source file must be renamed here
