"""The report's text from its rows: metrics/report.md's prose and tables (the scores table, every
score with its interval; the rank uncertainty table; the methods' own diagnostics) and the
CSV of the DVC bar plot. Text only: the numbers come from the score stage's files and
unlearn/scoring/report_stats.py."""
from unlearn.scoring import agreement, computed_on, leaderboard, originals
from unlearn.scoring.roles import calibration_role

COLUMNS = [  # (metrics key, table header, format, scale)
    ("retain_acc", "RA %", "{:.2f}", 100), ("forget_acc", "FA %", "{:.2f}", 100),
    ("test_acc", "TA %", "{:.2f}", 100), ("local_forget_quality", "F local", "{:.4f}", 1),
    ("local_score", "score local", "{:.4f}", 1),
    ("official_forget_quality", "F official", "{:.4f}", 1),
    ("official_score", "score official", "{:.4f}", 1), ("mia", "MIA", "{:.3f}", 1),
    ("nomus", "NoMUS", "{:.3f}", 1), ("klom_forget", "KLoM F", "{:.2f}", 1),
    ("tow", "ToW", "{:.3f}", 1), ("unlearn_seconds", "seconds", "{:.1f}", 1),
    ("cost_ratio", "cost ratio", "{:.3f}", 1),
]
# the local scorer's interval lives under the primary names when it is the primary scorer
CI_OF = {"local_forget_quality": "forget_quality", "local_score": "score",
         "official_forget_quality": "official_forget_quality", "official_score": "official_score",
         "klom_forget": "klom_forget", "tow": "tow"}
SHIFTED = "†"


def ci_key(row, key):
    """The name whose `<name>_ci` holds the interval of column `key` (None: no interval)."""
    if key.startswith("local_") and row["scorer"] == "official":
        return None
    return CI_OF.get(key)


def cell(row, key, fmt, scale):
    """A table cell: the value, with its interval when it has one."""
    if key not in row:
        return "–"
    text = fmt.format(row[key] * scale)
    ci_name = ci_key(row, key)
    if ci_name is None or f"{ci_name}_ci" not in row:
        return text
    ci = row[f"{ci_name}_ci"]
    if ci is None:
        return text + " n/a"
    mark = SHIFTED if ci_name in row.get("ci_extended", ()) else ""
    return f"{text} [{fmt.format(ci[0] * scale)}, {fmt.format(ci[1] * scale)}]{mark}"


def render_table(rows):
    cols = [c for c in COLUMNS if any(c[0] in r for r in rows)]
    lines = ["| method | " + " | ".join(c[1] for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for key, _, fmt, scale in cols:
            text = cell(r, key, fmt, scale)
            if key == "cost_ratio" and r.get("over_cost_limit"):
                text += " ⚠"
            cells.append(text)
        name = r["method"] + (f" (diverged {r['diverged_runs']}/{r['n_runs']})"
                              if r.get("diverged_runs") else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt_ratio(value, ci):
    if value is None:
        return "n/a (F retrain = 0)"
    if ci is None:
        return f"{value:.2f} n/a"
    lo = "–" if ci[0] is None else f"{ci[0]:.2f}"
    hi = "∞" if ci[1] is None else f"{ci[1]:.2f}"
    return f"{value:.2f} [{lo}, {hi}]"


def render_uncertainty(rows, unc, level):
    group_names = [leaderboard.group_name(g) for g in unc["group"]]
    has_ratio = "forget_quality_vs_retrain" in unc
    lines = ["| method | group | rank | rank interval | P(best method) | P(beats next row) |"
             + (" F / F retrain |" if has_ratio else ""),
             "|---|---|---|---|---|---|" + ("---|" if has_ratio else "")]
    for i, r in enumerate(rows):
        p_best = "calibration" if unc["p_best"][i] is None else f"{unc['p_best'][i]:.2f}"
        p_next = unc["p_beats_next"][i]
        if p_next is None:
            vs = "–"
        else:
            vs = f"{p_next:.2f} " + ("ahead" if unc["group"][i + 1] != unc["group"][i] else "tied")
        lo, hi = unc["rank_ci"][i]
        cells = [r["method"], group_names[i], str(unc["rank"][i]), f"{lo}–{hi}", p_best, vs]
        if has_ratio:
            cells.append(_fmt_ratio(unc["forget_quality_vs_retrain"][i],
                                    unc["forget_quality_vs_retrain_ci"][i]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_diagnostics(rows):
    """Methods' own per-run diagnostics (mean over runs), e.g. how much of the model ssd
    dampened: a method that changed nothing shows as such."""
    with_stats = [r for r in rows if r.get("method_stats")]
    if not with_stats:
        return ""
    lines = ["## Method diagnostics\n", "Means over the N runs of what each method recorded "
             "about itself (`method_stats` in metrics/score_details/<method>.detail.json).\n",
             "| method | diagnostic | mean |", "|---|---|---|"]
    for r in with_stats:
        lines += [f"| {r['method']} | {k} | {v:.4g} |" for k, v in sorted(r["method_stats"].items())]
    return "\n".join(lines) + "\n\n"


def render_report(rows, unc, na, level, boot, cost_limit, images, reps=None,
                  run_originals=None):
    """metrics/report.md but for the duplicate audit's section. rows: table order, costs merged
    in; unc: report_stats.uncertainty (None without replicates, na then says why); boot: the
    bootstrap settings (resamples, seed); images: {"scores", "eps"}, the figures' paths
    relative to the report; reps: the paired replicates (None: none); run_originals: the
    original each run started from."""
    first = rows[0]
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
        anchors = ", ".join(f"`{r['method']}`" for r in rows if calibration_role(r)) or "none"
        text += ("## How sure is the ranking\n\n"
                 f"From the same paired resamples (replicate b of every method draws the same "
                 f"runs, reference models and examples). Rank interval: the central "
                 f"{level * 100:g}% of each method's rank. P(best method): share of resamples "
                 f"in which it has the best score of the methods (calibration rows {anchors} "
                 f"excluded). P(beats next row): share in which it scores above the "
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
             f"![Scores with their intervals]({images['scores']})\n\n"
             "Per-example ε by bucket, each method beside the retrained calibration "
             "(further right earns fewer points):\n\n"
             f"![Per-example epsilon histograms]({images['eps']})\n")
    return text


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
