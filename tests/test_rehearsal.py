"""bench/mufac_rehearsal.py's instruments and report (bench/rehearsal_report.py): the memory
meter (bench/proc_meter.py) counts a page a stage's processes share once (PSS), where a sum
of RSS would count it in each process; rehearsals of one cut combine; the extrapolation to the full preset, against a case worked by hand; and the
README's planning table is the committed measurements rendered."""
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import rehearsal_report  # noqa: E402
from unlearn.methods import method_config  # noqa: E402
import proc_meter  # noqa: E402

# A "stage" (its command line holds `-m stages.`) that fills 300 MB, then forks a worker
# that reads the same pages (shared copy-on-write) and fills 100 MB of its own.
STAGE = """
import os, sys, time
block = bytearray(300 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1
if os.fork() == 0:
    own = bytearray(100 * 2**20)
    for i in range(0, len(own), 4096):
        own[i] = 1
    total = sum(block[i] for i in range(0, len(block), 4096))
    time.sleep(1.5)
    os._exit(0)
os.wait()
"""


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc")
def test_a_page_shared_by_a_stage_and_its_worker_counts_once():
    proc = subprocess.Popen([sys.executable, "-c", STAGE, "-m", "stages.fake"])
    peaks = proc_meter.Peaks(proc.pid, interval=0.1)
    assert proc.wait(timeout=60) == 0
    peaks.stop()
    assert peaks.stage >= 300 and peaks.worker >= 400      # RSS: the shared pages in each
    assert 400 <= peaks.total < 550, peaks.total            # PSS: 300 shared + 100 own, once


def _measured(workers=2):
    stage = {"stage_rss": 0, "worker_rss": 0, "total_pss": 0, "gpu": 0}
    walls = {"check_params": 3, "prepare": 7, "train_original@0": 100, "train_retrained@1": 120,
             "unlearn@original": 30, "unlearn@retrain": 100, "unlearn@a": 50, "score": 5}
    return {"epochs": 1, "runs": 2, "workers": workers, "methods": ["a"],
            "full": {"epochs": 50, "runs": 10, "trainings": 2,
                     "rows": ["original", "retrain", "a", "b", "c"]},
            "stages": {s: {**stage, "wall": w} for s, w in walls.items()},
            "fit_seconds": {"train_original@0": 80, "train_retrained@1": 100},
            "method_seconds": {"original": 0.0, "retrain": 80, "a": 40}}


def test_the_extrapolation_scales_what_the_preset_scales():
    x = rehearsal_report.extrapolate(_measured())
    # a training: fit × 50 + the rest of its stage; the mean of the two
    assert x["one_training"] == pytest.approx(((20 + 80 * 50) + (20 + 100 * 50)) / 2)
    # a run (2 side by side on 2 workers: the stage's wall): retrain's own seconds × 50,
    # a method's as measured; b and c at a's
    assert x["per_run"] == pytest.approx({"original": 30, "retrain": 80 * 50 + 20, "a": 50,
                                          "b": 50, "c": 50})
    assert x["runs_wall"] == pytest.approx(5 * (30 + 4020 + 3 * 50))     # ⌈10 / 2⌉ runs each
    assert x["runs_work"] == pytest.approx(10 * (30 + 4020 + 3 * 50))
    assert x["training_wall"] == pytest.approx(x["one_training"])        # 2 side by side
    assert x["other"] == 3 + 7 + 5
    assert x["wall"] == pytest.approx(x["training_wall"] + x["runs_wall"] + 15)


def test_one_worker_ran_the_runs_one_after_another():
    m = _measured(workers=1)
    m["stages"]["unlearn@a"]["wall"] = 110                               # 2 runs of 55 s
    x = rehearsal_report.extrapolate(m)
    assert x["per_run"]["a"] == pytest.approx(55)
    assert x["training_wall"] == pytest.approx(2 * x["one_training"])
    assert x["runs_wall"] == pytest.approx(x["runs_work"])


def test_the_readme_planning_table_is_the_committed_rehearsal_rendered():
    root = Path(__file__).resolve().parents[1]
    measured = rehearsal_report.load([root / "bench/results/mufac_rehearsal.json"])
    body = "\n".join(rehearsal_report.render(measured))
    assert (root / "bench/results/mufac_rehearsal.md").read_text() == body + "\n"
    readme = (root / "README.md").read_text()
    section = readme.split("<!-- mufac-rehearsal:begin -->\n")[1].split(
        "<!-- mufac-rehearsal:end -->")[0]
    assert section == body + "\n", "regenerate: python bench/to_readme.py mufac-rehearsal " \
                                   "--file bench/results/mufac_rehearsal.md"


def _run(command, walls, methods):
    m = _measured()
    m.update(_header(), date="2026-12-07", command=command, methods=methods)
    m["stages"] = {s: {**m["stages"]["unlearn@a"], "wall": w} for s, w in walls.items()}
    m["fit_seconds"] = {s: w - 20 for s, w in walls.items() if s.startswith("train_")}
    m["method_seconds"] = {r: 5 for r in methods}
    return m


def test_rehearsals_of_one_cut_combine_the_latest_row_of_each_stage():
    old = _run("first", {"train_original@0": 100, "unlearn@a": 50, "unlearn@b": 70}, ["a", "b"])
    new = _run("second", {"train_original@0": 90, "unlearn@a": 20}, ["a"])
    both = rehearsal_report.combine([old, new])
    assert {s: (v["wall"], v["run"]) for s, v in both["stages"].items()} == {
        "train_original@0": (90, "B"), "unlearn@a": (20, "B"), "unlearn@b": (70, "A")}
    assert both["methods"] == ["a", "b"]
    text = "\n".join(rehearsal_report.render(both))
    assert "- A: measured on m on 2026-12-07 with `first`" in text
    assert "| unlearn@b | A | 70.0 |" in text and "| unlearn@a | B | 20.0 |" in text


def test_rehearsals_of_different_cuts_do_not_combine():
    old, new = _run("first", {"unlearn@a": 50}, ["a"]), _run("second", {"unlearn@a": 20}, ["a"])
    new["epochs"] = 2
    with pytest.raises(SystemExit, match="differ in 'epochs'"):
        rehearsal_report.combine([old, new])


def test_a_method_run_with_its_epochs_cut_is_scaled_back():
    m = _measured()
    m["method_epochs"] = {"a": [1, 3]}                   # a ran 1 of its 3 epochs
    x = rehearsal_report.extrapolate(m)
    assert x["per_run"]["a"] == pytest.approx(40 * 3 + 10)   # own × 3, + its logits pass
    assert x["per_run"]["b"] == pytest.approx(130)            # the others at a's
    m["methods"] = ["a"]
    text = "\n".join(rehearsal_report.render({**m, **_header()}))
    assert "methods a (a 1 of its 3 epochs)" in text


def _header():
    return {"machine": "m", "date": "d", "command": "c", "minutes": 1.0, "no_references": False,
            "image_size": 128, "counts": {"train": 10}}


def test_a_rerun_measures_named_stages_with_this_code_and_combines_with_its_rehearsal(
        tmp_path, monkeypatch):
    import argparse
    import json
    import mufac_rehearsal
    earlier = _run("first", {"unlearn@scrub": 50, "unlearn@neggrad": 70, "unlearn@ssd": 90},
                   ["scrub", "neggrad", "ssd"])
    earlier.update(machine=mufac_rehearsal.machine(), method_epochs={"ssd": [1, 3]})
    (tmp_path / "rehearsal.json").write_text(json.dumps(earlier))
    repo = tmp_path / "repo"
    (repo / "unlearn").mkdir(parents=True)
    (repo / "unlearn/stale.py").write_text("")         # code of the earlier rehearsal
    (repo / "params.yaml").write_text("unlearn: {scrub: {epochs: 1}}  # the cut\n")
    (repo / "metrics/timing").mkdir(parents=True)
    for method, seconds in (("scrub", [4.0, 6.0]), ("neggrad", [1.0, 1.0])):
        (repo / f"metrics/timing/{method}.json").write_text(json.dumps({"seconds": seconds}))
    ran = []

    def measure_stages(repo_, stages, force=False):
        ran.append((repo_, stages, force))
        return {s: {**earlier["stages"][s], "wall": 20} for s in stages}

    monkeypatch.setattr(mufac_rehearsal, "measure_stages", measure_stages)
    old, new = mufac_rehearsal.rerun(argparse.Namespace(
        keep=tmp_path, rerun=["unlearn@neggrad", "unlearn@scrub", "unlearn@neggrad"]))
    # forced (its inputs may not have changed), in the pipeline's order, each stage once
    assert ran == [(repo, ["unlearn@scrub", "unlearn@neggrad"], True)]
    assert not (repo / "unlearn/stale.py").exists() and (repo / "unlearn/runner.py").is_file()
    assert (repo / "params.yaml").read_text().endswith("# the cut\n")
    # what ran, from the copy's params: SCRUB's own epochs cut to 1 of its default
    scrub_epochs = method_config("scrub", {}).epochs
    assert new["method_epochs"] == {"scrub": [1, scrub_epochs]}
    assert new["method_seconds"] == {"scrub": 5.0, "neggrad": 1.0}
    assert list(tmp_path.glob("rerun-*.json"))
    both = rehearsal_report.combine([old, new])
    assert {s: (v["wall"], v["run"]) for s, v in both["stages"].items()} == {
        "unlearn@scrub": (20, "B"), "unlearn@neggrad": (20, "B"), "unlearn@ssd": (90, "A")}
    assert both["method_epochs"] == {"scrub": [1, scrub_epochs], "ssd": [1, 3]}
    new["machine"] = "another"    # a rerun on another machine does not combine with it
    with pytest.raises(SystemExit, match="differ in 'machine'"):
        rehearsal_report.combine([old, new])
    with pytest.raises(SystemExit, match=r"--rerun unlearn@finetune: not a stage of the rehearsal"):
        mufac_rehearsal.rerun(argparse.Namespace(keep=tmp_path, rerun=["unlearn@finetune"]))
