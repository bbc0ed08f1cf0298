"""The report's tables: the scores table (every score with its interval), the rank
uncertainty table and the methods' own diagnostics, from the report's rows."""
from unlearn.scoring import leaderboard

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
