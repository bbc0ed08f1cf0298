"""What training seeds (`original.seeds`, K originals) cost and change, on the default data.

For each K, a copy of this project with the default params and `original.seeds` = [0 .. K-1]
runs the whole pipeline (`dvc repro`); the copies share one DVC cache, so stages whose inputs
K does not change (data, reference models, original 0) come from DVC's run-cache after the
first. From each run's outputs it prints one row per K: the originals' training seconds, the
unlearning runs' seconds (all methods), the wall time of the stages K reruns, the report's
groups, whether `original` and `retrain` separate under each scorer, the median interval
width of each headline score, and the median share of the variance between originals.

    python bench/training_seeds.py                      # K = 1, 2, 5 (N = 5 runs)
    python bench/training_seeds.py --ks 1 5 --out bench/results/training_seeds.md
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import pipeline_repo  # noqa: E402   the tests' throw-away project copies

SCORES = {"local": "score", "official": "official_score"}


def separated(a, b):
    return a is not None and b is not None and (a[1] < b[0] or b[1] < a[0])


def measure(repo, k):
    board = json.loads((repo / "metrics/leaderboard.json").read_text())
    methods = [r["method"] for r in board["rows"]]
    rows = {m: json.loads((repo / f"metrics/score_details/{m}.detail.json").read_text()) for m in methods}
    train = sum(json.loads((repo / f"metrics/train/original_{s}.timing.json").read_text())["seconds"]
                for s in range(k))
    runs = sum(sum(json.loads((repo / f"metrics/timing/{m}.json").read_text())["seconds"])
               for m in methods)
    groups = len({r["group"] for r in board["rows"]})
    out = {"K": k, "originals_train_s": train, "unlearn_runs_s": runs, "groups": groups}
    for scorer, key in SCORES.items():
        out[f"sep_{scorer}"] = separated(rows["original"].get(f"{key}_ci"),
                                         rows["retrain"].get(f"{key}_ci"))
        out[f"width_{scorer}"] = statistics.median(r[f"{key}_ci"][1] - r[f"{key}_ci"][0]
                                                   for r in rows.values())
        shares = [r["between_originals"][key] for r in rows.values()
                  if r.get("between_originals") and r["between_originals"].get(key) is not None]
        out[f"between_{scorer}"] = statistics.median(shares) if shares else None
    return out


def table(results):
    head = ("| K | originals: training s | unlearning runs s | wall of the stages K reruns s | "
            "groups | original vs retrain, local | original vs retrain, official | "
            "median width, local | median width, official | between originals, local | "
            "between originals, official |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    pct = lambda x: "n/a" if x is None else f"{x * 100:.0f} %"   # noqa: E731
    yes = lambda x: "separate" if x else "overlap"                 # noqa: E731
    for r in results:
        lines.append(f"| {r['K']} | {r['originals_train_s']:.1f} | {r['unlearn_runs_s']:.1f} | "
                     f"{r['wall_s']:.0f} | {r['groups']} | {yes(r['sep_local'])} | "
                     f"{yes(r['sep_official'])} | {r['width_local']:.3f} | "
                     f"{r['width_official']:.3f} | {pct(r['between_local'])} | "
                     f"{pct(r['between_official'])} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 5])
    parser.add_argument("--out", help="also write the table (with how it was made) here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="training-seeds-") as tmp:
        cache = Path(tmp) / "cache"
        # untimed: what every K shares (data, reference models, original 0) into the cache
        base = pipeline_repo.make_repo(Path(tmp) / "base", overrides={"original.seeds": [0]})
        pipeline_repo.dvc(base, "cache", "dir", str(cache))
        pipeline_repo.dvc(base, "repro", "train_original", "train_retrained")
        for k in args.ks:
            repo = pipeline_repo.make_repo(Path(tmp) / f"k{k}",
                                           overrides={"original.seeds": list(range(k))})
            pipeline_repo.dvc(repo, "cache", "dir", str(cache))
            start = time.perf_counter()
            pipeline_repo.dvc(repo, "repro")
            wall = time.perf_counter() - start
            results.append(dict(measure(repo, k), wall_s=wall))
            print(f"K = {k}: {wall:.0f} s", file=sys.stderr, flush=True)
    text = (f"Default params, N = 5 runs per method, one `dvc repro` per K in one process "
            f"(`python bench/training_seeds.py --ks {' '.join(map(str, args.ks))}`). The runs "
            f"share a DVC cache filled first with what every K shares (data, reference models, "
            f"original 0), so a K's wall time is what K reruns: its other originals, every "
            f"unlearning stage, scoring and the report. Widths: median over the 18 rows "
            f"of the 95 % interval's width. Between originals: median over rows (n/a with one "
            f"original, or one run per original).\n\n" + table(results) + "\n")
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
