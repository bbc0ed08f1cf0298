"""The report of bench/mufac_rehearsal.py's measurements: the extrapolation to the full
preset (`extrapolate`), several rehearsals of one cut combined (`combine`, `load`) and the
markdown report (`render`). Plain data in, text out: tested without running a stage
(tests/test_rehearsal.py)."""
import copy
import json
import statistics
import string
import sys
from pathlib import Path


def extrapolate(m):
    """The full preset's cost on the machine that measured `m`, in seconds.

    A training: its fit × (full epochs / epochs) plus the rest of its stage (start-up, the
    closing logits pass), the mean of those measured; the preset's trainings run `workers`
    at a time. A run of a row: its stage's wall × min(workers, N) / N (the N runs went side
    by side, so this is one run with its set-up and logits pass); the method's own seconds
    in it scale by (full epochs / epochs) for the retrain row (one training) and stay for
    the methods (their budgets are their own keys, not train.epochs), except a method whose
    own epochs were cut (`method_epochs`: [run, full]), scaled by full / run (an upper
    bound: a pass that runs once, e.g. SCRUB's teacher targets, is scaled too). Rows not run: the
    methods at the mean of the methods run, the retrain row (without references) as one
    training. Each row's ⌈N_full / workers⌉ runs one after another; then data, scoring and
    report as measured."""
    scale, stages = m["full"]["epochs"] / m["epochs"], m["stages"]
    workers, n = m["workers"], m["runs"]
    one_training = statistics.fmean(stages[s]["wall"] - fit + fit * scale
                                    for s, fit in m["fit_seconds"].items())
    per_run, cuts = {}, m.get("method_epochs", {})
    for row, own in m["method_seconds"].items():
        run = stages[f"unlearn@{row}"]["wall"] * min(workers, n) / n
        factor = scale if row == "retrain" else (cuts[row][1] / cuts[row][0] if row in cuts
                                                 else 1)
        per_run[row] = own * factor + max(0.0, run - own)
    methods = [v for r, v in per_run.items() if r not in ("original", "retrain")]
    mean_method = statistics.fmean(methods) if methods else 0.0
    per_run.setdefault("retrain", one_training)
    full_runs = {r: per_run.get(r, mean_method) for r in m["full"]["rows"]}
    at_once = -(-m["full"]["runs"] // workers)   # ⌈N / workers⌉ runs per worker
    out = {"per_run": full_runs, "mean_method": mean_method, "one_training": one_training,
           "training_wall": -(-m["full"]["trainings"] // workers) * one_training,
           "runs_wall": sum(v * at_once for v in full_runs.values()),
           "runs_work": sum(v * m["full"]["runs"] for v in full_runs.values()),
           "other": sum(v["wall"] for s, v in stages.items()
                        if not s.startswith(("train_", "unlearn@")))}
    out["wall"] = out["training_wall"] + out["runs_wall"] + out["other"]
    return out


# what rehearsals must share to be combined into one report: the same cut of the preset
SAME_CUT = ("machine", "image_size", "epochs", "runs", "workers", "counts", "full")


def combine(runs):
    """One measurement from rehearsals of the same cut, oldest first (a list of
    rehearsal.json contents): each stage, training fit and method row from the latest run
    that measured it, each stage tagged with its run's letter (A, B, …) and the runs'
    headers under "sources". A rehearsal after a fix need only rerun the stages it changed.
    """
    if len(runs) == 1:
        return runs[0]
    if len(runs) > len(string.ascii_uppercase):
        sys.exit(f"error: {len(runs)} rehearsals to combine; at most 26")
    for key in SAME_CUT:
        if any(r[key] != runs[0][key] for r in runs):
            sys.exit(f"error: the rehearsals differ in {key!r} "
                     f"({', '.join(str(r[key]) for r in runs)}); only runs of one cut combine")
    out = copy.deepcopy(runs[-1])
    out["stages"], out["fit_seconds"], out["method_seconds"], out["sources"] = {}, {}, {}, []
    out["method_epochs"] = {}
    for letter, run in zip(string.ascii_uppercase, runs):
        out["stages"].update({s: {**v, "run": letter} for s, v in run["stages"].items()})
        out["fit_seconds"].update(run["fit_seconds"])
        out["method_seconds"].update(run["method_seconds"])
        for method in run["methods"]:   # a method's epoch cut is its latest run's
            out["method_epochs"].pop(method, None)
        out["method_epochs"].update(run.get("method_epochs", {}))
        out["sources"].append({"run": letter, **{k: run[k] for k in run if k in HEADER}})
    out["methods"] = list(dict.fromkeys(m for r in runs for m in r["methods"]))
    out["no_references"] = all(r["no_references"] for r in runs)
    return out


def load(paths):
    """The measurement of rehearsal.json files, each one rehearsal or a list of them (the
    committed bench/results/mufac_rehearsal.json), combined oldest first."""
    runs = []
    for path in paths:
        loaded = json.loads(Path(path).read_text())
        runs += loaded if isinstance(loaded, list) else [loaded]
    return combine(runs)


HEADER = ("machine", "date", "commit", "command", "minutes", "no_references", "note")


def header(m):
    at = f" at commit {m['commit']}" if m.get("commit") else ""
    return (f"on {m['machine']} on {m['date']}{at} with `{m['command']}` "
            f"({m['minutes']:.0f} min"
            + ("; no reference models, so no scoring" if m["no_references"] else "")
            + (f"; {m['note']}" if m.get("note") else "") + ")")


def render(m):
    """The report of measurements `m` (one rehearsal, or `combine`d ones), as markdown
    lines."""
    sources = m.get("sources")
    lines = ([f"Measured {header(m)}:"] if not sources else
             [f"Combined from {len(sources)} rehearsals of the same cut; each stage's row is "
              f"from the latest that ran it (column `run`):", "",
              *(f"- {s['run']}: measured {header(s)}" for s in sources)])
    lines += ["",
              f"Rehearsal at {m['counts']} images of {m['image_size']} px, {m['epochs']} "
              f"epoch(s), N = {m['runs']}, methods {', '.join(m['methods'])}"
              + "".join(f" ({k} {r} of its {f} epochs)"
                        for k, (r, f) in m.get("method_epochs", {}).items())
              + f", executor.workers "
              f"{m['workers']}; memory in MB: peak RSS of the stage process and of its largest "
              f"worker, peak PSS of the stage process and its workers together", ""]
    on_gpu = any(v["gpu"] for v in m["stages"].values())   # a GPU column only where used
    lines += ["| stage | " + ("run | " if sources else "") + "wall s | stage process (RSS) | "
              "largest worker (RSS) | stage total (PSS) " + ("| GPU total " if on_gpu else "")
              + "| images/s |",
              "|---|---|---|---|---|---|" + ("---|" if on_gpu else "") + ("---|" if sources
                                                                          else "")]
    for stage, v in m["stages"].items():
        rate = (f"{m['counts']['train'] * m['epochs'] / v['wall']:.0f}"
                if stage.startswith("train_") else "")
        gpu = f" {v['gpu']:.0f} |" if on_gpu else ""
        run = f" {v['run']} |" if sources else ""
        lines.append(f"| {stage} |{run} {v['wall']:.1f} | {v['stage_rss']:.0f} | "
                     f"{v['worker_rss']:.0f} | {v['total_pss']:.0f} |{gpu} {rate} |")
    metered = [v for v in m["stages"].values() if "meter_cpu" in v]
    if metered:   # what sampling /proc took from the stages it measured
        share = sum(v["meter_cpu"] for v in metered) / sum(v["wall"] for v in metered)
        lines += ["", f"The memory meter itself used {100 * share:.1f} % of one core."]
    stage, top = max(m["stages"].items(), key=lambda item: item[1]["total_pss"])
    lines += ["", f"Largest stage: {stage}, {top['total_pss']:.0f} MB together (issue 20's "
                  f"target: ≤ 4096 MB per stage with 2 workers)."]
    x, full = extrapolate(m), m["full"]
    rows = ", ".join(f"{r} {x['per_run'][r] / 60:.0f}" for r in full["rows"]
                     if r in m["method_seconds"] or r == "retrain")
    lines += ["", f"Full preset on this machine (extrapolated, not run; `extrapolate` in "
                  f"bench/rehearsal_report.py): {full['epochs']} epochs, N = {full['runs']}, {len(full['rows'])} "
                  f"rows, {full['trainings']} trained models. One training "
                  f"{x['one_training'] / 3600:.1f} h; one run in minutes, its logits pass "
                  f"included: {rows}, each other method {x['mean_method'] / 60:.0f} (the mean "
                  f"of those run). On {m['workers']} workers: training "
                  f"{x['training_wall'] / 3600:.1f} h, unlearning runs "
                  f"{x['runs_wall'] / 3600:.1f} h ({x['runs_work'] / 3600:.0f} worker-hours), "
                  f"data, scoring and report {x['other'] / 60:.0f} min: about "
                  f"{x['wall'] / 3600:.0f} h in all."]
    return lines
