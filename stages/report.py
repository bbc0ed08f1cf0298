"""Stage: gather metrics/<method>.json of every method into metrics/summary.json, a
Markdown table metrics/report.md (a row per method, best score first) and
metrics/plots/scores.csv (the bar plot comparing methods in `dvc plots`)."""
import json
from pathlib import Path

from stages.common import entry_point, load_params
from unlearn.atomic import write_json, write_text
from unlearn.errors import UserError

COLUMNS = [  # (metrics key, table header, format)
    ("retain_acc", "RA %", "{:.2f}", 100), ("forget_acc", "FA %", "{:.2f}", 100),
    ("test_acc", "TA %", "{:.2f}", 100), ("local_forget_quality", "F local", "{:.4f}", 1),
    ("local_score", "score local", "{:.4f}", 1),
    ("official_forget_quality", "F official", "{:.4f}", 1),
    ("official_score", "score official", "{:.4f}", 1), ("mia", "MIA", "{:.3f}", 1),
    ("nomus", "NoMUS", "{:.3f}", 1), ("unlearn_seconds", "seconds", "{:.1f}", 1),
    ("cost_ratio", "cost ratio", "{:.3f}", 1),
]


def render_table(rows):
    cols = [c for c in COLUMNS if any(c[0] in r for r in rows)]
    lines = ["| method | " + " | ".join(c[1] for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for key, _, fmt, scale in cols:
            cell = fmt.format(r[key] * scale) if key in r else "–"
            if key == "cost_ratio" and r.get("over_cost_limit"):
                cell += " ⚠"
            cells.append(cell)
        name = r["method"] + (f" (diverged {r['diverged_runs']}/{r['n_runs']})"
                              if r.get("diverged_runs") else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@entry_point
def main():
    params = load_params()
    rows = []
    for method in params["unlearn"]["methods"]:
        path = Path(f"metrics/{method}.json")
        if not path.is_file():
            raise UserError(f"{path}: missing; run the score stage for {method!r}")
        rows.append(json.loads(path.read_text()))
    rows.sort(key=lambda r: r["score"], reverse=True)
    first = rows[0]
    summary = {"scorer": first["scorer"], "n_runs": first["n_runs"],
               "n_reference": first["n_reference"],
               "methods": {r["method"]: {k: r[k] for k in ("score", "forget_quality",
                                                           "retain_acc", "test_acc",
                                                           "cost_ratio")} for r in rows}}
    write_json("metrics/summary.json", summary)
    cost_limit = params["score"]["cost_limit"]
    text = (f"# Unlearning report\n\n"
            f"Scorer: {first['scorer']} (rows sorted by `score`, the "
            f"{'local (study, SPEC §4.2)' if first['scorer'] != 'official' else 'official (SPEC §4.1)'} score); "
            f"N = {first['n_runs']} unlearning runs per method, {first['n_reference']} reference "
            f"retrained model(s).\n"
            f"Test accuracy (TA) is on the `{first['test_split']}` CSV; model selection used the "
            f"`{first['val_split']}` CSV. FA = forget-set accuracy. "
            f"⚠ = slower than {cost_limit:g} × retraining time (the competition's limit).\n\n"
            + render_table(rows) + "\n")
    write_text("metrics/report.md", text)
    lines = ["method,score,forget_quality,retain_acc,test_acc"] + [
        f"{r['method']},{r['score']:.6f},{r['forget_quality']:.6f},{r['retain_acc']:.6f},"
        f"{r['test_acc']:.6f}" for r in rows]
    write_text("metrics/plots/scores.csv", "\n".join(lines) + "\n")
    print(text)


if __name__ == "__main__":
    main()
