"""The leaderboard: one row per method (score with its interval, rank group, rank, cost),
as the report stage saves it (metrics/leaderboard.json) and as `tools.leaderboard` prints
it, alone or beside another run's.

A saved board is plain data: {"scorer", "ci_level", "n_runs", "n_originals", "n_reference",
"cost_limit", "rows": [...]}, rows best score first; each row holds `method`, `calibration`,
`score`, `score_ci`, `official_score` (+ `_ci`, when computed), `forget_quality`,
`retain_acc`, `test_acc`, `group` (0 = the top group; rows sharing one are not told apart),
`rank`, `rank_ci`, `p_best`, `cost_ratio`, `over_cost_limit`, `unlearn_seconds` and, with
intervals and a reference row (unlearn/scoring/roles.py), `forget_quality_vs_retrain` (+ `_ci`).
"""
import statistics

from unlearn.scoring.roles import calibration_role

ROW_KEYS = ("score", "score_ci", "official_score", "official_score_ci", "forget_quality",
            "retain_acc", "test_acc", "forget_acc", "diverged_runs", "n_runs")
UNCERTAINTY_KEYS = ("group", "rank", "rank_ci", "p_best", "p_beats_next")
# F / F_retrain of the primary forget quality (the report's table also shows the official one)
RATIO_KEYS = ("forget_quality_vs_retrain", "forget_quality_vs_retrain_ci")


def cost(unlearn_seconds, retrain_seconds, limit):
    """A method's cost: the median wall time of its runs against the mean time of training
    one reference model, and whether that exceeds the competition's limit."""
    median = statistics.median(unlearn_seconds)
    mean_retrain = statistics.fmean(retrain_seconds)
    ratio = median / mean_retrain
    return {"unlearn_seconds": median, "retrain_seconds": mean_retrain, "cost_ratio": ratio,
            "over_cost_limit": bool(ratio > limit)}


def group_name(g):
    """Group 0 → A, 1 → B, ..., 26 → A1."""
    return chr(ord("A") + g % 26) + ("" if g < 26 else str(g // 26))


def board(rows, unc, header):
    """The saved leaderboard from the report's rows (table order, costs merged in) and its
    rank uncertainty (None when there are too few runs for intervals)."""
    out = dict(header)
    out["rows"] = []
    for i, r in enumerate(rows):
        row = {"method": r["method"], "calibration": calibration_role(r) is not None}
        row.update({k: r[k] for k in ROW_KEYS if k in r})
        row.update({k: r[k] for k in ("cost_ratio", "over_cost_limit", "unlearn_seconds")})
        row.update({k: (unc[k][i] if unc is not None else None) for k in UNCERTAINTY_KEYS})
        if unc is None:   # no intervals (too few runs): the rank of the point scores only
            row["rank"] = i + 1
        else:
            row.update({k: unc[k][i] for k in RATIO_KEYS if k in unc})
        out["rows"].append(row)
    return out


def _interval(value, ci, fmt="{:.4f}"):
    if value is None:
        return "–"
    text = fmt.format(value)
    return text + (f" [{fmt.format(ci[0])}, {fmt.format(ci[1])}]" if ci else " n/a")


def _cells(row):
    """(score with interval, group, rank with interval, cost) of one row, as text."""
    group = "–" if row.get("group") is None else group_name(row["group"])
    rank = str(row["rank"]) if row.get("rank") is not None else "–"
    if row.get("rank_ci"):
        rank += f" ({row['rank_ci'][0]}–{row['rank_ci'][1]})"
    cost_text = f"{row['cost_ratio']:.3f}" + (" ⚠" if row.get("over_cost_limit") else "")
    return _interval(row["score"], row.get("score_ci")), group, rank, cost_text


def _table(header, lines):
    """Columns padded to their widest cell; the first column left-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    fmt = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(c) for c in lines])


def describe(saved, name):
    level = saved.get("ci_level")
    return (f"{name}: scorer {saved['scorer']}, N = {saved['n_runs']} runs from "
            f"{saved.get('n_originals', 1)} original(s), {saved['n_reference']} reference "
            f"model(s)" + (f", {level * 100:g}% intervals" if level else ""))


def render(saved, name="workspace"):
    """One board as a terminal table, best score first."""
    lines = [[r["method"] + (" *" if r.get("calibration") else ""), *_cells(r)]
             for r in saved["rows"]]
    return (describe(saved, name) + "\n\n"
            + _table(["method", "score [interval]", "group", "rank (interval)", "cost ratio"],
                     lines)
            + f"\n\n* calibration row. group: rows sharing a letter are not told apart. "
              f"cost ratio: unlearning time / retraining time, ⚠ above "
              f"{saved.get('cost_limit', 0.2):g}.")


def render_markdown(saved):
    """One board as a Markdown table (the README's results)."""
    out = ["| method | score [interval] | group | rank (interval) | cost ratio |",
           "|---|---|---|---|---|"]
    for r in saved["rows"]:
        name = f"{r['method']} (calibration)" if r.get("calibration") else r["method"]
        out.append("| " + " | ".join([name, *_cells(r)]) + " |")
    return "\n".join(out)


def compare(a, b, names):
    """Two boards side by side, one row per method in either (b's order, then a's
    others): each one's score, interval, group and rank, and the change in score."""
    rows_a = {r["method"]: r for r in a["rows"]}
    rows_b = {r["method"]: r for r in b["rows"]}
    order = [r["method"] for r in b["rows"]] + [m for m in rows_a if m not in rows_b]
    lines = []
    for m in order:
        cells = [m]
        for rows in (rows_a, rows_b):
            if m in rows:
                score, group, rank, _ = _cells(rows[m])
                cells += [score, f"{group} {rank}"]
            else:
                cells += ["–", "–"]
        both = m in rows_a and m in rows_b
        cells.append(f"{rows_b[m]['score'] - rows_a[m]['score']:+.4f}" if both else "–")
        lines.append(cells)
    head = [describe(a, names[0]), describe(b, names[1]), ""]
    return "\n".join(head) + "\n" + _table(
        ["method", f"score {names[0]}", "group rank", f"score {names[1]}", "group rank",
         "change"], lines)
