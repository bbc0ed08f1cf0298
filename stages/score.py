"""Stage: score every listed method's runs against the reference retrained models, in one
process.

Reads models/unlearned/<method>/runs.{npz,json} (logits of N runs) for every method listed
under `unlearn` and models/retrained/seed_<k>/logits.{npz,json} (one per reference seed).
Writes, per method (paths: stages.common.score_files):

  metrics/scores/<method>.json                  the DVC metric: a few headline numbers
                                                (unlearn.scoring.method_scores.HEADLINE), so that
                                                `dvc metrics show` / `dvc exp show` stay readable
  metrics/score_details/<method>.detail.json    every score, interval and record
  metrics/score_details/<method>.eps.csv        per-example ε, drawn by the report
  metrics/score_replicates/<method>.bootstrap.json  per-replicate scores for the report, which
                                                pairs them across methods (same seed, same draws)

Each method is scored on its own with the same bootstrap draws, so a method whose runs did not
change gets the same bytes and `dvc metrics diff` lists only the methods that changed. One
process for all methods instead of one stage each saves an interpreter start, the imports and
DVC's per-stage work per method (docs/speed.md). It imports no torch: logits are numpy files.
No wall-clock time goes in: a reproduction on another machine writes the same bytes (the
report takes the cost from metrics/timing/).

Scorers (score.scorer): `local` is the study's Kaggle scorer (docs/scoring.md#local-score)
against the FIRST reference model; `official` is the competition metric
(docs/scoring.md#official-score) against all reference models, which needs as many reference
seeds as unlearning seeds. `forget_quality` and `score` hold the local scorer's values unless
only `official` is asked for; the `scorer` field says which.

Intervals (score.bootstrap, unlearn/scoring/bootstrap.py): each score gets `<name>_ci` = [low,
high], a percentile interval over replicates that redraw the runs, the reference models
(official), the noise draw (local) and the forget examples. With fewer runs than
score.bootstrap.min_runs there is no interval: `<name>_ci` is null and `ci_na` says why.

Every folder above is a command-line argument (dvc.yaml passes them; the defaults are the
same paths).
"""
import argparse
import multiprocessing
import sys
from pathlib import Path
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from stages.common import DETAILS_DIR, REPLICATES_DIR, SCORES_DIR, entry_point, load_params, score_files
from unlearn.core import logits_file
from unlearn.core.atomic import write_json, write_text
from unlearn.core.errors import UserError
from unlearn.core.executor import usable_cores
from unlearn.core.progress import Progress
from unlearn.scoring import computed_on
from unlearn.scoring.method_scores import CI_NAMES, headline, score_runs


def score_method(method, runs, refs, params):
    """(detail, headline, bootstrap record, eps csv text) of one method's runs."""
    cfg = params["score"]
    m, replicates, eps_columns = score_runs(method, runs["logits"], runs["labels"], refs, cfg,
                                            originals=runs.get("originals"))
    m.update(test_split=params["data"]["test_split"], val_split=params["data"]["selection_split"])
    n, labels, boot = m["n_runs"], runs["labels"], cfg["bootstrap"]
    replicates = replicates or {}

    stats = runs.get("stats") or []
    keys = sorted({k for run in stats for k in run})
    if keys:  # the method's own diagnostics, e.g. ssd's share of dampened weights
        m["method_stats"] = {k: float(np.mean([run[k] for run in stats if k in run])) for k in keys}
    # the row's calibration role as the method registered it (unlearn/methods/__init__.py),
    # recorded by the unlearn stage: the report ranks and compares by it, not by name
    m["calibration"] = runs.get("calibration")
    m["computed_on"] = {"runs": computed_on.labels(runs.get("compute")),
                        "references": computed_on.labels([ref.get("compute") for ref in refs])}
    record = {
        "method": method, "seed": boot["seed"], "resamples": boot["resamples"],
        "scheme": boot["scheme"], "resample_examples": boot["resample_examples"],
        "n_runs": n, "originals": list(runs.get("originals") or [0] * n),
        "n_reference": len(refs), "n_examples": len(labels["forget"]),
        "scorer": cfg["scorer"], "na": m.get("ci_na"),
        "replicates": {k: [float(x) for x in replicates[k]]
                       for k in CI_NAMES if k in replicates}}
    header = "example," + ",".join(f"epsilon_{k}" for k in eps_columns)
    rows = [",".join([str(i)] + [f"{eps_columns[k][i]:.6g}" for k in eps_columns])
            for i in range(len(labels["forget"]))]
    return m, headline(m), record, "\n".join([header] + rows) + "\n"


UNLEARNED_DIR = Path("models/unlearned")
RETRAINED_DIR = Path("models/retrained")
_INPUTS = {}   # what forked scoring processes inherit: (runs, refs, params)


def _score(method):
    runs, refs, params = _INPUTS["all"]
    return score_method(method, runs[method], refs, params)


def scored(methods):
    """score_method of each method, in order. Methods are independent (pure numpy, the same
    bootstrap draws for each), so on Linux they are scored in forked processes, one per core
    (18 methods: ~1.7 s each on this project's 2-core machine); the bytes are the same."""
    workers = min(len(methods), usable_cores())
    if workers == 1 or sys.platform != "linux":
        yield from map(_score, methods)
        return
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            yield from pool.map(_score, methods)
    except BrokenProcessPool:   # killed (by hand, out of memory): DVC records nothing
        raise UserError("score: a scoring process died; the stage did not complete, "
                        "run it again (dvc repro)") from None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    folders = [("--unlearned", UNLEARNED_DIR, "the unlearn stages' folders, <method>/runs.*"),
               ("--retrained", RETRAINED_DIR, "the reference models, seed_<k>/logits.*"),
               ("--scores", SCORES_DIR, "headline scores to write, <method>.json"),
               ("--details", DETAILS_DIR, "details to write, <method>.detail.json and .eps.csv"),
               ("--replicates", REPLICATES_DIR, "replicates to write, <method>.bootstrap.json")]
    for flag, default, what in folders:
        parser.add_argument(flag, type=Path, default=default,
                            help=f"{what} (default: %(default)s)")
    return parser.parse_args(argv)


@entry_point
def main(argv=None):
    args = parse_args(argv)
    params = load_params()
    methods = list(params["unlearn"])
    refs = [logits_file.load(args.retrained / f"seed_{k}" / "logits")
            for k in params["retrain"]["seeds"]]
    # every input read before any output is written: a missing method stops the stage early
    runs = {m: logits_file.load(args.unlearned / m / "runs") for m in methods}
    _INPUTS["all"] = (runs, refs, params)
    progress = Progress(len(methods), "score", unit="method")
    for method, (m, head, record, eps) in zip(methods, scored(methods)):
        out = score_files(method, scores=args.scores, details=args.details,
                          replicates=args.replicates)
        write_json(out["detail"], m)
        write_json(out["bootstrap"], record)
        write_text(out["eps"], eps)
        write_json(out["metrics"], head)
        progress.step(f"{method}: score {m['score']:.4f}, F {m['forget_quality']:.4f}, "
                      f"RA {m['retain_acc']:.3f}, TA {m['test_acc']:.3f}")
    progress.close()


if __name__ == "__main__":
    main()
