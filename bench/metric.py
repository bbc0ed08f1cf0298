"""Benchmark of the competition metric (docs/scoring.md#official-score): fast
`official_epsilons` against the literal dense per-threshold version of
tests/test_scoring_official.py, on random confidences.

    .venv/bin/python bench/metric.py [--models 512] [--examples 2000] [--slow-examples 5]

Exits 1 if the two disagree (beyond 1e-9) on the subsample.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from unlearn.scoring.local import official_epsilons, official_forget_quality  # noqa: E402


def _literal():
    """The literal implementation lives with its tests; load it from there."""
    spec = importlib.util.spec_from_file_location(
        "_official_literal", ROOT / "tests" / "test_scoring_official.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.literal_official_epsilons


def random_confs(n_models: int, n_examples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Confidence-like samples: per example, retrained ~ N(μ, σ) and unlearned shifted/scaled a
    little, so ε spreads over the buckets; a few examples are made peaky or separated."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(2.0, 2.0, n_examples)
    sigma = rng.uniform(0.3, 3.0, n_examples)
    r = mu + sigma * rng.standard_normal((n_models, n_examples))
    shift = rng.normal(0.0, 0.5, n_examples) * sigma
    scale = rng.uniform(0.7, 1.3, n_examples)
    u = mu + shift + scale * sigma * rng.standard_normal((n_models, n_examples))
    u[:, ::97] = u[:, ::97] * 1e-3 + mu[::97]           # peaky unlearned distributions
    u[:, 5::101] += 30.0                                 # perfectly separated examples
    return u, r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=512, help="N models per side")
    ap.add_argument("--examples", type=int, default=2000, help="S forget examples")
    ap.add_argument("--slow-examples", type=int, default=5, help="examples for the literal version")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    u, r = random_confs(args.models, args.examples, args.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    f, eps = official_forget_quality(u, r, return_epsilons=True)
    fast_s, fast_cpu = time.perf_counter() - t0, time.process_time() - c0

    rng = np.random.default_rng(args.seed + 1)
    # the subsample avoids the peaky/separated columns, which the literal code short-cuts too
    plain = np.array([i for i in range(args.examples) if i % 97 and (i - 5) % 101])
    idx = np.sort(rng.choice(plain, min(args.slow_examples, plain.size), replace=False))
    literal = _literal()
    t0 = time.perf_counter()
    slow = literal(u[:, idx], r[:, idx])
    slow_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast_sub = official_epsilons(u[:, idx], r[:, idx])
    fast_sub_s = time.perf_counter() - t0

    per_fast = fast_s / args.examples
    per_slow = slow_s / idx.size
    print(f"N = {args.models} models, S = {args.examples} examples")
    print(f"fast  : {fast_s:8.2f} s total, {per_fast * 1e3:8.2f} ms/example  (F = {f:.5f}, "
          f"mean ε = {eps.mean():.3f}); CPU time {fast_cpu:.2f} s (wall > CPU: machine busy)")
    print(f"slow  : {slow_s:8.2f} s on {idx.size} examples, {per_slow * 1e3:8.2f} ms/example")
    print(f"fast on the same {idx.size}: {fast_sub_s * 1e3 / idx.size:.2f} ms/example; "
          f"speed-up per example {per_slow / per_fast:.0f}x")
    diff = np.abs(np.where(slow == fast_sub, 0.0, slow - fast_sub))
    ok = bool(np.all(diff <= 1e-9))
    print(f"agreement on examples {idx.tolist()}: max |Δε| = {diff.max():.3g} -> "
          f"{'OK' if ok else 'MISMATCH'}")
    print("ε (literal):", np.round(slow, 6).tolist())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
