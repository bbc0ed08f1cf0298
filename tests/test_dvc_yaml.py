"""dvc.yaml and params.yaml stay in step with the method registry."""
from pathlib import Path

import yaml

from unlearn.methods import available_methods

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_the_score_stage_writes_whole_folders_the_report_reads():
    """One list of methods: the score stage writes each kind of file into a folder of its own,
    a whole output (so it holds exactly the listed methods' files), and the report depends on
    those folders, with no list of files kept by hand."""
    from stages.common import score_files   # what the score stage writes and the report reads
    score = DVC["stages"]["score"]
    written = {next(iter(o)) if isinstance(o, dict) else o
               for o in score.get("outs", []) + score.get("metrics", [])}
    folders = {str(p.parent) for p in score_files("m").values()}
    assert written == folders
    assert [next(iter(m)) for m in score["metrics"]] == [str(score_files("m")["metrics"].parent)]
    # the score stage's folders, and the wall times of the cost column
    deps = [d for d in DVC["stages"]["report"]["deps"] if d.startswith("metrics/")]
    assert set(deps) == folders | {"metrics/timing", "metrics/train"}
    assert {"models/unlearned", "models/retrained"} <= set(score["deps"])
    assert "unlearn" in score["params"]   # the methods: the keys of the `unlearn` section


def test_report_images_are_outputs_and_image_plots():
    outs = [next(iter(o)) for o in DVC["stages"]["report"]["outs"]]
    images = [p for p in DVC["plots"] if isinstance(p, str) and p.endswith(".png")]
    report_images = [p for p in images if p.startswith("metrics/")]
    assert report_images and set(report_images) <= set(outs)
    # the others are a benchmark's committed results (bench/power.py)
    assert all((ROOT / p).is_file() for p in images if p not in report_images)
    scores = next(p["scores"] for p in DVC["plots"] if isinstance(p, dict) and "scores" in p)
    assert (ROOT / scores["template"]).is_file()


def test_every_registered_method_runs_by_default():
    assert sorted(PARAMS["unlearn"]) == available_methods()


def test_the_unlearn_stage_is_one_per_method_with_its_overrides_as_params():
    stage = DVC["stages"]["unlearn"]
    assert stage["foreach"] == "${unlearn}"
    assert "unlearn.${key}" in stage["do"]["params"]


def test_every_method_module_is_a_dependency_of_its_stage():
    deps = DVC["stages"]["unlearn"]["do"]["deps"]
    assert "unlearn/methods/${key}.py" in deps
    assert "unlearn/methods" not in deps     # editing one method must not rerun the others


def test_code_deps_exist():
    """A renamed or moved source file or folder must be renamed in dvc.yaml too."""
    for name, stage in DVC["stages"].items():
        stage = stage.get("do", stage)
        for dep in stage.get("deps", []):
            if "${" not in dep and dep.startswith(("unlearn/", "stages/")):
                assert (ROOT / dep).exists(), f"{name}: {dep}"
