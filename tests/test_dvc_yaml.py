"""dvc.yaml and params.yaml stay in step with the method registry."""
from pathlib import Path

import yaml

from unlearn.methods import available_methods

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_report_depends_on_every_listed_method():
    from pipeline_repo import REPORT_DEPS_PER_METHOD
    deps = {d for d in DVC["stages"]["report"]["deps"] if d.startswith("metrics/")}
    assert deps == {d.format(m) for m in PARAMS["unlearn"]["methods"]
                    for d in REPORT_DEPS_PER_METHOD}


def test_report_reads_what_the_score_stage_writes():
    score = DVC["stages"]["score"]["do"]
    written = [next(iter(o)) if isinstance(o, dict) else o
               for o in score.get("outs", []) + score.get("metrics", [])]
    from pipeline_repo import REPORT_DEPS_PER_METHOD
    assert sorted(written) == sorted(d.format("${item}") for d in REPORT_DEPS_PER_METHOD)


def test_report_images_are_outputs_and_image_plots():
    outs = [next(iter(o)) for o in DVC["stages"]["report"]["outs"]]
    images = [p for p in DVC["plots"] if isinstance(p, str) and p.endswith(".png")]
    report_images = [p for p in images if p.startswith("metrics/")]
    assert report_images and set(report_images) <= set(outs)
    # the others are a benchmark's committed results (bench/power.py)
    assert all((ROOT / p).is_file() for p in images if p not in report_images)
    scores = next(p["scores"] for p in DVC["plots"] if isinstance(p, dict) and "scores" in p)
    assert (ROOT / scores["template"]).is_file()


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
