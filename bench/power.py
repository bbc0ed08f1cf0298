"""How wide are the score intervals at N runs and N reference models? (choosing the default N)

Trains N_max runs of a few methods and N_max reference retrained models once, on the
pipeline's prepared data and original model (run `dvc repro train_original` first), then
scores the first N of each for every N in --ns, with the same code and params as the
score stage (unlearn.scoring.method_scores.score_runs). Runs are reused across N, so the curve
shows the effect of N, not of new seeds. Prints, per N, each method's local and official
score, KLoM on the forget set and ToW with their intervals, whether `retrain`'s and
`original`'s intervals are apart under each (KLoM's binned KL is dominated by empty bins at
small N: this says from which N it tells them apart), and the half-width of the typical
methods; writes bench/results/power.csv (a DVC plot, dvc.yaml) and bench/results/power.png.
--cache bench/results/coverage_runs.pt reuses bench/coverage.py's pool (40 of each).

    python bench/power.py --ns 2 4 8 16 --methods finetune neggrad
"""
import argparse
import csv
import sys
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from unlearn.core import logits_file  # noqa: E402
from unlearn.core.compute import check_compute  # noqa: E402
from unlearn.core.executor import check_executor, run_all  # noqa: E402
from unlearn.scoring.method_scores import score_runs  # noqa: E402
from unlearn.methods import method_config  # noqa: E402
from unlearn.training.recipes import resolve_recipe  # noqa: E402
from unlearn.data.splits import EVAL_SPLITS  # noqa: E402
from unlearn.runner import UnlearnTask, unlearning_job  # noqa: E402

OUT = ROOT / "bench" / "results"
REFERENCE_OFFSET = 5000   # reference retrains: seeds disjoint from the calibration row's


def train_runs(params, methods, n_max, cache):
    """{method: split -> [n_max, S, C]} and the reference models' logits, cached in `cache`."""
    if cache.is_file():
        saved = torch.load(cache, weights_only=True)
        if saved["n_max"] >= n_max and set(methods) <= set(saved["runs"]):
            return saved
    compute_cfg = check_compute(params.get("compute"))
    executor = check_executor(params.get("executor", {}), threads=compute_cfg["threads"],
                              device=params["device"])
    job = unlearning_job(ROOT / "data/prepared", ROOT / "models/original/seed_0/model.pt",
                         params["device"], resolve_recipe(params["train"]), compute_cfg)
    out = {"n_max": n_max, "runs": {}}
    todo = [(m, method_config(m, params["unlearn"].get(m)), range(n_max)) for m in methods]
    todo.append(("reference", {"seed_offset": REFERENCE_OFFSET}, range(n_max)))
    for name, cfg, seeds in todo:
        method = "retrain" if name == "reference" else name
        print(f"training {n_max} x {name} on {executor['workers']} worker(s)", flush=True)
        results = run_all(job, [UnlearnTask(method, cfg, s) for s in seeds], executor)
        out["runs"][name] = {s: torch.stack([r["logits"][s] for r in results]) for s in EVAL_SPLITS}
    labels = logits_file.load(ROOT / "models/original/seed_0/logits")["labels"]
    out["labels"] = {s: labels[s] for s in EVAL_SPLITS}
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, cache)
    return out


METRICS = ("local", "official", "klom_forget", "tow")


def key_of(scorer, params):
    """The metrics key of a scorer's score: the stage writes the primary scorer's intervals
    under `score` (local when score.scorer is both) and the official one under official_score;
    KLoM and ToW under their own names."""
    if scorer not in ("local", "official"):
        return scorer
    primary = "local" if params["score"]["scorer"] in ("local", "both") else "official"
    return "score" if scorer == primary else f"{scorer}_score"


def fmt(m, key):
    ci = m.get(f"{key}_ci")
    return f"{m[key]:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{m[key]:.3f} [n/a]"


def overlap(a, b):
    return a is None or b is None or not (a[1] < b[0] or b[1] < a[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--methods", nargs="+", default=["finetune", "neggrad"],
                        help="typical methods besides the calibration rows")
    parser.add_argument("--cache", default=str(OUT / "power_runs.pt"))
    args = parser.parse_args()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    methods = ["original", "retrain"] + args.methods
    data = train_runs(params, methods, max(args.ns), Path(args.cache))
    rows = []
    for n in args.ns:
        refs = [{"logits": {s: data["runs"]["reference"][s][k] for s in EVAL_SPLITS},
                 "labels": data["labels"]} for k in range(n)]
        scored = {}
        for method in methods:
            logits = {s: data["runs"][method][s][:n] for s in EVAL_SPLITS}
            scored[method], _, _ = score_runs(method, logits, data["labels"], refs, params["score"])
        print(f"\nN = {n}")
        for method, m in scored.items():
            print(f"  {method:12s} " + " ".join(f"{s} {fmt(m, key_of(s, params)):24s}"
                                               for s in METRICS))
            for scorer in METRICS:
                ci = m.get(f"{key_of(scorer, params)}_ci")
                rows.append({"n": n, "method": method, "scorer": scorer,
                             "score": m[key_of(scorer, params)],
                             "low": ci[0] if ci else "", "high": ci[1] if ci else "",
                             "half_width": (ci[1] - ci[0]) / 2 if ci else ""})
        for scorer in METRICS:
            ci = f"{key_of(scorer, params)}_ci"
            sep = not overlap(scored["retrain"].get(ci), scored["original"].get(ci))
            widths = [(m[ci][1] - m[ci][0]) / 2 for k, m in scored.items()
                      if k in args.methods and m.get(ci)]
            width = f"{max(widths):.3f}" if widths else "n/a"
            print(f"  {scorer}: retrain and original intervals separate: {sep}; "
                  f"largest half-width of {', '.join(args.methods)}: {width}")
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "power.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, OUT / "power.png")
    print(f"\nwrote {OUT / 'power.csv'} and {OUT / 'power.png'}")


def plot(rows, path):
    from unlearn.scoring.figures import _new_figure, png_bytes
    fig = _new_figure(16, 3.5)
    for k, scorer in enumerate(METRICS):
        ax = fig.add_subplot(1, len(METRICS), k + 1)
        for method in dict.fromkeys(r["method"] for r in rows):
            pts = [(r["n"], r["half_width"]) for r in rows
                   if r["method"] == method and r["scorer"] == scorer and r["half_width"] != ""]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=method)
        ax.axhline(0.05, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("N (runs = reference models)")
        ax.set_ylabel("half-width of the 95% interval")
        ax.set_title(scorer if scorer in ("klom_forget", "tow") else f"{scorer} score")
        if ax.get_lines():
            ax.legend(fontsize=7)
    path.write_bytes(png_bytes(fig))


if __name__ == "__main__":
    main()
