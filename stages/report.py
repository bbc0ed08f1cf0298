"""Stage: gather what the score stages wrote for every method into metrics/summary.json, a
Markdown report metrics/report.md (a row per method, best score first, every score with its
interval, then how sure the ranking is), metrics/plots/scores.csv (the DVC bar plot, with the
interval bounds) and two static images the report shows: metrics/plots/scores_ci.png and
metrics/plots/eps_hist.png.

Writes metrics/leaderboard.json (one row per method: score and interval, rank group,
rank, cost; what `python -m tools.leaderboard` prints) and metrics/summary.json (the DVC
metric of the run as a whole: counts, no per-method numbers).

Reads, for the methods listed under `unlearn`, what the score stage writes
(stages.common.score_files): <method>.detail.json and <method>.eps.csv in
metrics/score_details/, <method>.bootstrap.json (the per-replicate values, paired across
methods) in metrics/score_replicates/; the wall times in metrics/timing/ and metrics/train/
for the cost column; and the prepare stage's duplicate audit.

This script only takes the paths (arguments, which dvc.yaml passes), reads, and writes; the
report itself is built by unlearn/scoring (report_inputs, report_build and the modules it
calls).
"""
import argparse
import os
from pathlib import Path

from stages.common import DETAILS_DIR, REPLICATES_DIR, SCORES_DIR, entry_point, load_params, score_files
from unlearn.core.atomic import write_bytes, write_json, write_text
from unlearn.scoring import report_build, report_inputs


def parse_args(argv=None):
    """Every path the stage reads or writes (dvc.yaml passes them; the defaults are the same)."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    paths = [("--prepared", "data/prepared", "the prepare stage's folder: info.json, duplicates.csv"),
             ("--scores", SCORES_DIR, "the score stage's headline scores"),
             ("--details", DETAILS_DIR, "the score stage's details and ε"),
             ("--replicates", REPLICATES_DIR, "the score stage's replicates"),
             ("--timing", "metrics/timing", "the unlearn stages' run times, <method>.json"),
             ("--train-metrics", "metrics/train", "the train stages' metrics, "
                                                   "retrained_<k>.timing.json"),
             ("--out", "metrics", "where report.md, summary.json and leaderboard.json go"),
             ("--plots", "metrics/plots", "where scores.csv, scores_ci.png, eps_hist.png go")]
    for flag, default, what in paths:
        parser.add_argument(flag, type=Path, default=Path(default),
                            help=f"{what} (default: %(default)s)")
    return parser.parse_args(argv)


@entry_point
def main(argv=None):
    args = parse_args(argv)
    params = load_params()
    methods = list(params["unlearn"])   # the keys of `unlearn`, in table order
    report, plots = args.out / "report.md", args.plots
    inputs = report_inputs.read_inputs(
        score_files={m: score_files(m, scores=args.scores, details=args.details,
                                    replicates=args.replicates) for m in methods},
        method_timing={m: args.timing / f"{m}.json" for m in methods},
        reference_timing={f"train_retrained@{k}": args.train_metrics / f"retrained_{k}.timing.json"
                          for k in params["retrain"]["seeds"]},
        info=args.prepared / "info.json", duplicates=args.prepared / "duplicates.csv")
    out = report_build.build(
        inputs, level=params["score"]["bootstrap"]["level"], boot=params["score"]["bootstrap"],
        cost_limit=params["score"]["cost_limit"],
        # the report links its images relative to itself
        images={"scores": _relative(plots / "scores_ci.png", report.parent),
                "eps": _relative(plots / "eps_hist.png", report.parent)})
    # everything is computed: write (an error above leaves the old outputs as they were)
    write_json(args.out / "summary.json", out.summary)
    write_json(args.out / "leaderboard.json", out.leaderboard)
    write_text(report, out.report)
    write_text(plots / "scores.csv", out.scores_csv)
    write_bytes(plots / "scores_ci.png", out.scores_png)
    write_bytes(plots / "eps_hist.png", out.eps_png)
    best = out.best
    print(f"report: {out.summary['n_methods']} methods, best {best['method']} "
          f"(score {best['score']:.4f}); {report}, `python -m tools.leaderboard` for the table")


def _relative(path, folder):
    return Path(os.path.relpath(path, folder)).as_posix()


if __name__ == "__main__":
    main()
