"""The report's outputs, built in memory from what was read (report_inputs.ReportInputs): the
run's summary, the leaderboard, the Markdown report, the bar plot's CSV and the two PNGs.

Nothing here writes a file: the caller writes them all once everything is computed, so an
error on the way leaves the previous outputs as they were.
"""
from dataclasses import dataclass

from unlearn.data.duplicates import markdown_section
from unlearn.scoring import figures, leaderboard, report_stats, report_tables
from unlearn.scoring.roles import calibration_role


@dataclass
class ReportOutputs:
    summary: dict       # the DVC metric of the run as a whole
    leaderboard: dict   # one row per method (unlearn/scoring/leaderboard.py)
    report: str         # the Markdown report
    scores_csv: str     # the DVC bar plot's data
    scores_png: bytes
    eps_png: bytes
    best: dict          # the best-scoring method's row (the top row if all are calibration)


def table_rows(inputs, cost_limit):
    """Each method's detail with its cost merged in, best score first (the table order)."""
    costs = {m: leaderboard.cost(seconds, inputs.reference_seconds, cost_limit)
             for m, seconds in inputs.method_seconds.items()}
    rows = [{**detail, **costs[m]} for m, detail in inputs.details.items()]
    rows.sort(key=lambda r: r["score"], reverse=True)
    return rows


def summary(rows):
    """Numbers about the run as a whole, none about one method (those are each method's
    metrics/scores/<m>.json), so a change to one method's runs changes nothing here."""
    first = rows[0]
    return {"n_methods": len(rows), "n_runs": first["n_runs"],
            "n_originals": first.get("n_originals", 1), "n_reference": first["n_reference"]}


def board(rows, unc, na, level, cost_limit, audit_counts):
    """The saved leaderboard: its header (how the scores were computed) and rows."""
    first = rows[0]
    return leaderboard.board(rows, unc, {
        "scorer": first["scorer"], "ci_level": level, "ci_na": na, "cost_limit": cost_limit,
        "n_runs": first["n_runs"], "n_originals": first.get("n_originals", 1),
        "n_reference": first["n_reference"], "duplicates": audit_counts,
        "computed_on": sorted({x for r in rows for k in ("runs", "references")
                               for x in r.get("computed_on", {}).get(k, [])})})


def build(inputs, level, boot, cost_limit, images):
    """Every output of the report. level: the intervals' level; boot: the bootstrap settings
    (resamples, seed); cost_limit: the competition's limit on cost_ratio; images: {"scores",
    "eps"}, the figures' paths relative to the report (its links)."""
    rows = table_rows(inputs, cost_limit)
    files = [inputs.replicates[r["method"]] for r in rows]
    reps, na = report_stats.pair_replicates(
        files, [inputs.replicate_paths[r["method"]] for r in rows])
    # the original (training seed) each run started from; the same for every method
    run_originals = files[0].get("originals") or [0] * rows[0]["n_runs"]
    unc = report_stats.uncertainty(rows, reps, level) if reps is not None else None
    report = report_tables.render_report(rows, unc, na, level, boot, cost_limit, images, reps,
                                         run_originals)
    report += "\n" + markdown_section(inputs.audit_counts, inputs.audit_pairs)
    return ReportOutputs(
        summary=summary(rows), leaderboard=board(rows, unc, na, level, cost_limit,
                                                 inputs.audit_counts),
        report=report, scores_csv=report_tables.scores_csv(rows),
        scores_png=figures.png_bytes(figures.report_scores_figure(rows, level)),
        eps_png=figures.png_bytes(figures.report_eps_figure(rows, inputs.eps)),
        best=next((r for r in rows if calibration_role(r) is None), rows[0]))
