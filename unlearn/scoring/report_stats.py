"""The report's statistics across methods, from the score stage's paired bootstrap replicates
(replicate b of every method draws the same runs, reference models and examples): the check
that the replicates do pair, rank uncertainty and forget quality relative to the reference
row (F / F_retrain) with its interval. numpy only; the resampling itself is
unlearn/scoring/bootstrap.py's."""
import numpy as np

from unlearn.core.errors import UserError
from unlearn.scoring import bootstrap
from unlearn.scoring.roles import calibration_role, find_role

# what must be equal in every method's bootstrap file for replicate b to mean the same draw
PAIRING = ("seed", "resamples", "scheme", "resample_examples", "n_runs", "originals",
           "n_reference", "n_examples", "scorer")
RATIO_OF = ("forget_quality", "official_forget_quality")   # the F / F_retrain columns


def pair_replicates(files, paths):
    """[M, B] replicate arrays per score name, in the order of `files` (the methods' bootstrap
    files, table order), or (None, reason) when the score stage drew none. `paths`: where each
    file came from, for the error when one was drawn differently."""
    na = next((f["na"] for f in files if f.get("na")), None)
    if na:
        return None, na
    for f, path in zip(files[1:], paths[1:]):
        diff = [k for k in PAIRING if f.get(k) != files[0].get(k)]
        if diff:
            raise UserError(f"{path}: {diff[0]} differs from {files[0]['method']}'s, so "
                            f"replicates don't pair; rerun the score stage with one params.yaml")
    names = set.intersection(*(set(f["replicates"]) for f in files))
    return {k: np.array([f["replicates"][k] for f in files]) for k in names}, None


def uncertainty(rows, reps, level):
    """Per method (table order): rank interval, P(best), P(beats next), group, rank of the
    point scores and, when there is a reference row, F / F_retrain with its interval."""
    out = bootstrap.rank_summary(reps["score"], [calibration_role(r) is not None for r in rows],
                                 level)
    out["rank"] = [int(x) for x in bootstrap.ranks(np.array([[r["score"]] for r in rows]))[:, 0]]
    i_ref = find_role(rows, "reference")
    for key in RATIO_OF:
        if key not in reps or i_ref is None:
            continue
        f_ref = rows[i_ref][key]
        # the output names keep "retrain": the saved leaderboard's and report's vocabulary
        out[f"{key}_vs_retrain"] = [r[key] / f_ref if f_ref > 0 else None for r in rows]
        out[f"{key}_vs_retrain_ci"] = [bootstrap.ratio_interval(reps[key][i], reps[key][i_ref],
                                                                level)
                                       for i in range(len(rows))]
    return out
