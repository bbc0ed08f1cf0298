"""Each scorer's forget quality on bootstrap replicates: the scorer's own function
(unlearn/scoring/official.py, unlearn/scoring/local.py) called with the replicates' weights
(unlearn/scoring/bootstrap.py). numpy only."""
from __future__ import annotations

import numpy as np

from unlearn.scoring.local import (local_epsilons, local_forget_quality, local_noise_std,
                                   noisy_retrained_statistics)
from unlearn.scoring.official import official_epsilons, official_quality_from_epsilons

_REPLICATES_PER_CHUNK = 100     # bounds the local scorer's [chunk, N, S] noisy copies


def official_quality_replicates(unlearned_confs, retrained_confs, draws, *, delta) -> np.ndarray:
    """F [B] of the competition metric with each replicate's run, reference and example
    weights (ε only for the examples a replicate weighs: all but about 37% under the
    multinomial scheme, every one under the Bayesian)."""
    eps = official_epsilons(unlearned_confs, retrained_confs, weights_u=draws.runs,
                            weights_r=draws.refs, examples=draws.examples > 0, delta=delta)
    return official_quality_from_epsilons(eps, np.shape(unlearned_confs)[0], draws.examples)


def local_quality_replicates(unlearned_stats, retrained_logits, draws, *, ref_index=None,
                             noise_divisor: float = 10.0, **eps_kw) -> np.ndarray:
    """F [B] of the local scorer: the runs weighted as drawn, a fresh noise draw per replicate
    (its scale from the weighted runs, as the scorer takes it from the runs), examples
    weighted in F's mean. retrained_logits: [S, C] of the one reference model, or [N_ref, S, C]
    with ref_index [B] picking each replicate's (bootstrap.Draws.one_reference)."""
    u = np.asarray(unlearned_stats, np.float64)
    n = u.shape[0]
    refs = np.asarray(retrained_logits)
    if ref_index is None:
        refs, ref_index = refs[None], np.zeros(draws.resamples, np.intp)
    out = np.zeros(draws.resamples)
    for c0 in range(0, draws.resamples, _REPLICATES_PER_CHUNK):
        rows = np.arange(c0, min(c0 + _REPLICATES_PER_CHUNK, draws.resamples))
        r = np.stack([noisy_retrained_statistics(
            refs[ref_index[k]], n, local_noise_std(u, noise_divisor, draws.runs[k]),
            int(draws.noise_seeds[k])) for k in rows])
        eps = local_epsilons(u, r, weights_u=draws.runs[rows],
                             examples=draws.examples[rows] > 0, **eps_kw)
        out[rows] = local_forget_quality(eps, draws.examples[rows])
    return out
