"""dvc.yaml and params.yaml stay in step with the method registry."""
from pathlib import Path

import yaml

from unlearn.methods import available_methods

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_the_report_depends_on_the_folder_the_score_stages_write_into():
    """One list of methods: the report's only metrics dep is the folder where every
    score@<method> writes, so it depends on exactly the listed methods' scores."""
    deps = [d for d in DVC["stages"]["report"]["deps"] if d.startswith("metrics/")]
    # the score stages' folder, and the wall times of the cost column
    assert deps == ["metrics/scores", "metrics/timing", "metrics/train"]
    score = DVC["stages"]["score"]["do"]
    written = [next(iter(o)) if isinstance(o, dict) else o
               for o in score.get("outs", []) + score.get("metrics", [])]
    assert written and all(w.startswith("metrics/scores/${item}.") for w in written)
    from stages.common import score_files   # what the score stage writes and the report reads
    assert sorted(written) == sorted(str(p) for p in score_files("${item}").values())


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
    assert "unlearn/methods" not in deps     # editing one method must not rerun the others


def test_code_deps_exist():
    """A renamed or moved source file or folder must be renamed in dvc.yaml too."""
    for name, stage in DVC["stages"].items():
        stage = stage.get("do", stage)
        for dep in stage.get("deps", []):
            if "${" not in dep and dep.startswith(("unlearn/", "stages/")):
                assert (ROOT / dep).exists(), f"{name}: {dep}"
