"""Stage: gather what the score stages wrote for every method into metrics/summary.json, a
Markdown report metrics/report.md (a row per method, best score first, every score with its
interval, then how sure the ranking is), metrics/plots/scores.csv (the DVC bar plot, with the
interval bounds) and two static images the report shows: metrics/plots/scores_ci.png and
metrics/plots/eps_hist.png.

Writes metrics/leaderboard.json (one row per method: score and interval, rank group,
rank, cost; what `python -m tools.leaderboard` prints) and metrics/summary.json (the DVC
metric of the run as a whole: counts, no per-method numbers).

Reads, for the methods listed in `unlearn.methods`, what the score stage writes
(stages.common.score_files): <method>.detail.json and <method>.eps.csv in
metrics/score_details/, <method>.bootstrap.json (the per-replicate values, paired across
methods) in metrics/score_replicates/; and the wall times in metrics/timing/ and
metrics/train/ for the cost column.
"""
import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd

from stages.common import entry_point, load_params, score_files
from unlearn.scoring import agreement, bootstrap, computed_on, figures, leaderboard, originals
from unlearn.scoring.report_tables import (SHIFTED, ci_key, render_diagnostics, render_table,
                                           render_uncertainty)
from unlearn.scoring.leaderboard import CALIBRATION
from unlearn.core.atomic import write_bytes, write_json, write_text
from unlearn.core.errors import UserError
from unlearn.data.duplicates import markdown_section
from unlearn.scoring.local import official_bucket_count

def _read_json(path, stage):
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: missing; run the score stage (dvc repro score) for {stage!r}")
    return json.loads(path.read_text())


def read_replicate_files(rows):
    """Every method's bootstrap file (its replicates and how they were drawn), table order."""
    return [_read_json(score_files(r["method"])["bootstrap"], r["method"]) for r in rows]


def load_replicates(rows, files=None):
    """[M, B] replicate arrays per score name, in table order, or (None, reason)."""
    files = files or read_replicate_files(rows)
    na = next((f["na"] for f in files if f.get("na")), None)
    if na:
        return None, na
    same = ("seed", "resamples", "scheme", "resample_examples", "n_runs", "originals",
            "n_reference", "n_examples", "scorer")
    for f in files[1:]:
        diff = [k for k in same if f.get(k) != files[0].get(k)]
        if diff:
            raise UserError(f"{score_files(f['method'])['bootstrap']}: {diff[0]} differs from "
                            f"{files[0]['method']}'s, so replicates don't pair; rerun the score "
                            f"stage with one params.yaml")
    names = set.intersection(*(set(f["replicates"]) for f in files))
    return {k: np.array([f["replicates"][k] for f in files]) for k in names}, None


def uncertainty(rows, reps, level):
    """Per method (table order): rank interval, P(best), P(beats next), group, F / F_retrain."""
    names = [r["method"] for r in rows]
    out = bootstrap.rank_summary(reps["score"], [m in CALIBRATION for m in names], level)
    out["rank"] = [int(x) for x in bootstrap.ranks(np.array([[r["score"]] for r in rows]))[:, 0]]
    for key in ("forget_quality", "official_forget_quality"):
        if key not in reps or "retrain" not in names:
            continue
        i_ref = names.index("retrain")
        f_ref = rows[i_ref][key]
        out[f"{key}_vs_retrain"] = [r[key] / f_ref if f_ref > 0 else None for r in rows]
        out[f"{key}_vs_retrain_ci"] = [bootstrap.ratio_interval(reps[key][i], reps[key][i_ref],
                                                                level)
                                       for i in range(len(rows))]
    return out


def read_eps(method):
    path = score_files(method)["eps"]
    if not path.is_file():
        raise UserError(f"{path}: missing; run the score stage (dvc repro score) for {method!r}")
    with path.open() as f:
        table = list(csv.DictReader(f))
    return {k.removeprefix("epsilon_"): np.array([float(row[k]) for row in table])
            for k in (table[0] if table else {}) if k.startswith("epsilon_")}


def eps_figure(rows):
    eps = {}
    for r in rows:
        for scorer, values in read_eps(r["method"]).items():
            eps.setdefault(scorer, {})[r["method"]] = values
    scorers = []
    if "local" in eps:      # the local scorer's 13 bins; >= 6 earns the least
        scorers.append(("local", np.arange(13) * 0.5, "local scorer ε"))
    if "official" in eps:   # the official buckets; >= the last edge earns 0
        n_b = official_bucket_count(max(2, rows[0]["n_runs"]))
        scorers.append(("official", np.arange(n_b + 1) * 0.5, "official metric ε"))
    methods = [m for m in ("retrain",) if any(m in eps[s] for s, *_ in scorers)]
    methods += [r["method"] for r in rows if r["method"] != "retrain"]
    return figures.eps_histogram_figure(eps, scorers, methods)


def scores_png(rows, level):
    panels = []
    for key, title in (("local_score", "score (local scorer)"),
                       ("official_score", "score (official metric)")):
        if all(key in r for r in rows):
            ci_name = ci_key(rows[0], key)
            panels.append((title, [(r["method"], r[key], r.get(f"{ci_name}_ci")) for r in rows]))
    return figures.png_bytes(figures.scores_figure(panels, level))


def read_audit():
    """The duplicate audit prepare wrote: (counts, pairs)."""
    info = Path("data/prepared/info.json")
    pairs = Path("data/prepared/duplicates.csv")
    for path in (info, pairs):
        if not path.is_file():
            raise UserError(f"{path}: missing; run the prepare stage")
    counts = json.loads(info.read_text()).get("duplicates")
    if counts is None:
        raise UserError(f"{info}: no `duplicates` counts; rerun the prepare stage")
    return counts, pd.read_csv(pairs)


def read_costs(methods, retrain_seeds, limit):
    """Each method's cost from the wall times its unlearn stage and the reference trainings
    recorded (metrics/timing/, metrics/train/): timings stay out of the score files, so a
    reproduction elsewhere leaves those byte for byte."""
    retrain = [_read_json(f"metrics/train/retrained_{k}.timing.json",
                          f"train_retrained@{k}")["seconds"] for k in retrain_seeds]
    return {m: leaderboard.cost(_read_json(f"metrics/timing/{m}.json", m)["seconds"], retrain,
                                limit) for m in methods}


def scores_csv(rows):
    """metrics/plots/scores.csv, the DVC bar plot's data, with the interval bounds."""
    lines = ["method,score,score_low,score_high,forget_quality,forget_quality_low,"
             "forget_quality_high,retain_acc,test_acc"]
    for r in rows:
        cells = [r["method"]]
        for key in ("score", "forget_quality"):
            ci = r.get(f"{key}_ci")
            cells += [f"{r[key]:.6f}"] + ([f"{b:.6f}" for b in ci] if ci else ["", ""])
        cells += [f"{r['retain_acc']:.6f}", f"{r['test_acc']:.6f}"]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


@entry_point
def main():
    params = load_params()
    level = params["score"]["bootstrap"]["level"]
    cost_limit = params["score"]["cost_limit"]
    audit_counts, audit_pairs = read_audit()
    methods = params["unlearn"]["methods"]
    costs = read_costs(methods, params["retrain"]["seeds"], cost_limit)
    rows = [{**_read_json(score_files(m)["detail"], m), **costs[m]} for m in methods]
    rows.sort(key=lambda r: r["score"], reverse=True)
    files = read_replicate_files(rows)
    reps, na = load_replicates(rows, files)
    # the original (training seed) each run started from; the same for every method
    run_originals = files[0].get("originals") or [0] * rows[0]["n_runs"]
    unc = uncertainty(rows, reps, level) if reps is not None else None
    first = rows[0]
    # summary.json, a DVC metric: numbers about the run as a whole, none about one method
    # (those are each method's metrics/scores/<m>.json), so a change to one method's runs
    # changes nothing here
    summary = {"n_methods": len(rows), "n_runs": first["n_runs"],
               "n_originals": first.get("n_originals", 1), "n_reference": first["n_reference"]}
    board = leaderboard.board(rows, unc, {
        "scorer": first["scorer"], "ci_level": level, "ci_na": na, "cost_limit": cost_limit,
        "n_runs": first["n_runs"], "n_originals": first.get("n_originals", 1),
        "n_reference": first["n_reference"], "duplicates": audit_counts,
        "computed_on": sorted({x for r in rows for k in ("runs", "references")
                               for x in r.get("computed_on", {}).get(k, [])})})
    if unc is not None and "forget_quality_vs_retrain" in unc:
        for i, row in enumerate(board["rows"]):
            row["forget_quality_vs_retrain"] = unc["forget_quality_vs_retrain"][i]
            row["forget_quality_vs_retrain_ci"] = unc["forget_quality_vs_retrain_ci"][i]
    report = render_report(rows, unc, na, level, params, reps, run_originals)
    report += "\n" + markdown_section(audit_counts, audit_pairs)
    scores_image = scores_png(rows, level)
    eps_image = figures.png_bytes(eps_figure(rows))
    # everything is computed: write (an error above leaves the old outputs as they were)
    write_json("metrics/summary.json", summary)
    write_json("metrics/leaderboard.json", board)
    write_text("metrics/report.md", report)
    write_text("metrics/plots/scores.csv", scores_csv(rows))
    write_bytes("metrics/plots/scores_ci.png", scores_image)
    write_bytes("metrics/plots/eps_hist.png", eps_image)
    best = next((r for r in rows if r["method"] not in CALIBRATION), first)
    print(f"report: {len(rows)} methods, best {best['method']} (score {best['score']:.4f}); "
          f"metrics/report.md, `python -m tools.leaderboard` for the table")


def render_report(rows, unc, na, level, params, reps=None, run_originals=None):
    first = rows[0]
    cost_limit = params["score"]["cost_limit"]
    primary = ("local (the study's Kaggle scorer)" if first["scorer"] != "official"
               else "official (the competition's metric)")
    text = (f"# Unlearning report\n\n"
            f"Scorer: {first['scorer']} (rows sorted by `score`, the {primary} score). "
            + originals.headline(first["n_runs"], run_originals or [0] * first["n_runs"],
                                 first["n_reference"])
            + "\n"
            f"Test accuracy (TA) is on the `{first['test_split']}` CSV; model selection used the "
            f"`{first['val_split']}` CSV. FA = forget-set accuracy. "
            f"⚠ = slower than {cost_limit:g} × retraining time (the competition's limit).\n\n")
    if na:
        text += f"Intervals: {na}; every interval reads n/a.\n\n"
    else:
        boot = params["score"]["bootstrap"]
        text += (f"Scores read `value [low, high]`: a {level * 100:g}% percentile bootstrap "
                 f"interval over {boot['resamples']} resamples (seed {boot['seed']}) of the "
                 + ("original models, the unlearning runs within them, "
                    if first.get("n_originals", 1) > 1 else "unlearning runs, ")
                 + "the reference models, the local scorer's noise and the forget examples.")
        if any(r.get("ci_extended") for r in rows):
            text += (f" {SHIFTED} = the point estimate lay outside the percentile interval, "
                     f"which was widened to include it: the score is biased under resampling "
                     f"at this N.")
        text += "\n\n"
    text += render_table(rows) + "\n\n"
    if unc is not None:
        text += ("## How sure is the ranking\n\n"
                 f"From the same paired resamples (replicate b of every method draws the same "
                 f"runs, reference models and examples). Rank interval: the central "
                 f"{level * 100:g}% of each method's rank. P(best method): share of resamples "
                 f"in which it has the best score of the methods (calibration rows `original`, "
                 f"`retrain` excluded). P(beats next row): share in which it scores above the "
                 f"row below; `tied` unless that share is at least {(1 + level) / 2:.3g}, and "
                 f"rows sharing a group letter are not told apart. F / F retrain: forget "
                 f"quality relative to retraining, what perfect unlearning looks like on this "
                 f"data.\n\n"
                 + render_uncertainty(rows, unc, level) + "\n\n")
    text += originals.render(rows)
    text += agreement.render(rows, reps, level)
    text += render_diagnostics(rows)
    text += computed_on.render(rows)
    text += ("## Pictures\n\n"
             "![Scores with their intervals](plots/scores_ci.png)\n\n"
             "Per-example ε by bucket, each method beside the retrained calibration "
             "(further right earns fewer points):\n\n"
             "![Per-example epsilon histograms](plots/eps_hist.png)\n")
    return text


if __name__ == "__main__":
    main()
