"""Benchmark of the bootstrap of the competition metric (docs/scoring.md#bootstrap-intervals):
B resamples of the runs, the reference models and the forget examples, on synthetic confidences
(bench/metric.py's).

    .venv/bin/python bench/bootstrap.py [--models 64] [--examples 500] [--resamples 1000]
                                        [--check 3]

Prints the seconds for all resamples and, for comparison, for one run of the metric itself.
--check K recomputes K replicates with `official_forget_quality` on the resampled data and
exits 1 if any differs (--scheme multinomial: integer weights are repeated models).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from metric import random_confs  # noqa: E402
from unlearn.scoring import bootstrap  # noqa: E402
from unlearn.scoring.replicates import official_quality_replicates  # noqa: E402
from unlearn.scoring.official import official_forget_quality  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=64, help="N models per side")
    ap.add_argument("--examples", type=int, default=500, help="S forget examples")
    ap.add_argument("--resamples", type=int, default=1000, help="B bootstrap replicates")
    ap.add_argument("--check", type=int, default=3, help="replicates recomputed the slow way")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scheme", default="multinomial", choices=bootstrap.SCHEMES)
    args = ap.parse_args(argv)

    u, r = random_confs(args.models, args.examples, args.seed)
    t0 = time.perf_counter()
    point = official_forget_quality(u, r)
    one_s = time.perf_counter() - t0
    draws = bootstrap.draw(args.seed, args.resamples, args.models, args.models, args.examples,
                           args.scheme)
    t0, c0 = time.perf_counter(), time.process_time()
    reps = official_quality_replicates(u, r, draws, delta=1e-5)
    boot_s, boot_cpu = time.perf_counter() - t0, time.process_time() - c0
    (low, high), extended = bootstrap.percentile_interval(reps, 0.95, point)
    print(f"N = {args.models} models per side, S = {args.examples} examples, "
          f"B = {args.resamples} resamples")
    print(f"one metric run : {one_s:7.2f} s   (F = {point:.4f})")
    print(f"bootstrap      : {boot_s:7.2f} s wall, {boot_cpu:.2f} s CPU "
          f"({boot_s / args.resamples * 1e3:.1f} ms per resample; rerunning the metric "
          f"would take ~{one_s * args.resamples:.0f} s)")
    print(f"95% interval   : [{low:.4f}, {high:.4f}]" + ("  (widened to the point)" if extended
                                                           else ""))
    ok = True
    for b in range(min(args.check, args.resamples) if args.scheme == "multinomial" else 0):
        # integer weights: the metric on the models and examples repeated that many times
        rep = lambda w: np.repeat(np.arange(w.size), w.astype(int))   # noqa: E731
        ex = rep(draws.examples[b])
        want = official_forget_quality(u[rep(draws.runs[b])][:, ex], r[rep(draws.refs[b])][:, ex])
        ok &= abs(want - reps[b]) <= 1e-12
    if args.check:
        print(f"check of {min(args.check, args.resamples)} replicates against the metric: "
              f"{'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
