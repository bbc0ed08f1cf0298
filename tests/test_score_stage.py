"""The score stage's handling of runs whose method diverged (non-finite logits)."""
import numpy as np

from unlearn.scoring.method_scores import diverged_runs, local_test_size, sanitize


def test_diverged_runs_are_counted_and_scored_as_uniform():
    good = np.random.default_rng(0).normal(size=(3, 5, 8)).astype(np.float32)
    logits = {"forget": good.copy(), "test": good.copy()}
    logits["forget"][1, 2, 3] = float("nan")
    logits["test"][2, 0, 0] = float("inf")
    assert diverged_runs(logits) == 2
    clean = sanitize(logits)
    assert all(np.isfinite(v).all() for v in clean.values())
    assert clean["forget"][1, 2, 3] == 0 and np.array_equal(clean["forget"][0], good[0])


def test_local_test_size_keeps_the_notebook_default_from_ten_runs():
    assert local_test_size(None, 10) is None        # sklearn's 10 %
    assert local_test_size(None, 3) == 2            # one test example per side
    assert local_test_size(0.5, 3) == 0.5


def test_the_score_and_report_stages_import_no_torch():
    """Their logits are numpy files (unlearn/core/logits_file.py): importing torch cost ~2 s in
    each of their processes."""
    import subprocess
    import sys
    code = ("import sys, stages.score, stages.report; "
            "print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_score_stage_writes_the_same_bytes_forked_or_in_one_process(tmp_path, monkeypatch):
    """Methods are scored in forked processes, one per core; the files are those of scoring
    them one after another in the stage's own process."""
    from pathlib import Path

    import score_workspace
    from stages import score

    def written(root):
        folders = ("scores", "score_details", "score_replicates")   # what the stage writes
        return {str(p.relative_to(root)): p.read_bytes() for f in folders
                for p in sorted(Path(root, "metrics", f).rglob("*")) if p.is_file()}

    runs = {}
    for cores in (2, 1):
        root = tmp_path / f"cores{cores}"
        root.mkdir()
        score_workspace.make(root, resamples=50)
        monkeypatch.setattr(score, "usable_cores", lambda: cores)
        with score_workspace.inside(root):
            score.main([])
        runs[cores] = written(root)
    assert len(runs[1]) == 4 * len(score_workspace.SHIFT)   # headline, detail, eps, replicates
    assert runs[2] == runs[1]
