"""Stage: score one method's runs against the reference retrained models.

Reads models/unlearned/<method>/ (logits of N runs) and models/retrained/seed_<k>/
(one logits file per reference seed), writes metrics/<method>.json and the per-example
ε table metrics/eps/<method>.csv for `dvc plots`.

Scorers (score.scorer): `local` is the study's Kaggle scorer (SPEC §4.2) against the
FIRST reference model; `official` is the competition metric (SPEC §4.1) against all
reference models, which needs as many reference seeds as unlearning seeds. `forget_quality`
and `score` hold the local scorer's values unless only `official` is asked for; the
`scorer` field says which.

Intervals (score.bootstrap, unlearn/bootstrap.py): each score gets `<name>_ci` = [low, high],
a percentile interval over replicates that redraw the runs, the reference models (official),
the noise draw (local) and the forget examples. The replicate values themselves go to
metrics/bootstrap/<method>.json for the report, which pairs them across methods (same seed,
same draws) to rank the methods. With fewer runs than score.bootstrap.min_runs there is no
interval: `<name>_ci` is null and `ci_na` says why.
"""
import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch

from stages.common import entry_point, load_params
from unlearn.atomic import write_json, write_text
from unlearn.errors import UserError
from unlearn.train import accuracy
from unlearn import bootstrap, scoring
from unlearn.bootstrap_local import local_quality_replicates
from unlearn.bootstrap_official import official_quality_replicates

CI_NAMES = ("forget_quality", "score", "official_forget_quality", "official_score")


def _load(path):
    if not Path(path).is_file():
        raise UserError(f"{path}: not found (run the stage that writes it)")
    try:
        return torch.load(path, weights_only=True)
    except Exception as e:  # truncated or corrupt file, e.g. a damaged pull
        raise UserError(f"{path}: corrupt or unreadable ({type(e).__name__})") from None


def _acc(logits, labels):
    return [accuracy(run, labels) for run in logits]


def diverged_runs(logits):
    """Runs whose model produced a non-finite logit on any split (the method diverged)."""
    bad = torch.zeros(len(next(iter(logits.values()))), dtype=torch.bool)
    for value in logits.values():
        bad |= ~torch.isfinite(value).flatten(1).all(1)
    return int(bad.sum())


def sanitize(logits):
    """A diverged run is scored as what it is, a model that knows nothing: its non-finite
    logits become 0 (a uniform prediction). The run still counts; `diverged_runs` says so."""
    return {split: torch.nan_to_num(value, nan=0.0, posinf=0.0, neginf=0.0)
            for split, value in logits.items()}


def local_test_size(test_size, n_runs):
    """The notebook's StratifiedShuffleSplit default (10% test) needs N ≥ 10 runs per side to
    leave one test example of each side; below that, `null` takes the smallest share that
    does (2 of the 2N pooled values). An explicit share is used as given."""
    if test_size is not None:
        return test_size
    return None if n_runs >= 10 else 2  # an int is a count for StratifiedShuffleSplit


def _score_replicates(f_reps, draws, run_acc, ref_acc, resample_refs):
    try:
        return bootstrap.score_replicates(f_reps, draws, run_acc["retain"], run_acc["test"],
                                          ref_acc["retain"], ref_acc["test"],
                                          resample_refs=resample_refs)
    except ValueError as e:
        raise UserError(f"score.bootstrap: {e}") from None


def add_intervals(m, replicates, boot):
    """`<name>_ci` for every score that has replicates (widened to hold the point estimate,
    listed in `ci_extended` when that was needed), or null and `ci_na` when there are none."""
    m["ci_level"] = boot["level"]
    if replicates is None:
        m["ci_na"] = (f"n/a: N = {m['n_runs']} runs, fewer than score.bootstrap.min_runs = "
                      f"{boot['min_runs']}")
        for name in CI_NAMES:
            if name in m:
                m[f"{name}_ci"] = None
        return
    m["ci_extended"] = []
    for name in CI_NAMES:
        if name in m:
            try:
                m[f"{name}_ci"], extended = bootstrap.percentile_interval(
                    replicates[name], boot["level"], m[name])
            except ValueError as e:
                raise UserError(f"{name}: no interval ({e})") from None
            if extended:
                m["ci_extended"].append(name)


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("method")
    method = parser.parse_args(argv).method
    params = load_params()
    cfg = params["score"]
    runs = _load(f"models/unlearned/{method}/runs.pt")
    timing = json.loads(Path(f"metrics/timing/{method}.json").read_text())
    ref_seeds = params["retrain"]["seeds"]
    refs = [_load(f"models/retrained/seed_{k}/logits.pt") for k in ref_seeds]
    ref_seconds = [json.loads(Path(f"metrics/train/retrained_{k}.timing.json").read_text())["seconds"]
                   for k in ref_seeds]

    U, labels, diverged = sanitize(runs["logits"]), runs["labels"], diverged_runs(runs["logits"])
    n = len(runs["seeds"])
    m = {"method": method, "n_runs": n, "diverged_runs": diverged, "n_reference": len(refs), "scorer": cfg["scorer"],
         "test_split": params["data"]["test_split"], "val_split": params["data"]["selection_split"]}
    for split in ("retain", "forget", "test", "val"):
        m[f"{split}_acc"] = float(np.mean(_acc(U[split], labels[split])))
    ref_acc = {s: [accuracy(r["logits"][s], r["labels"][s]) for r in refs] for s in ("retain", "test")}
    m["reference_retain_acc"], m["reference_test_acc"] = (float(np.mean(ref_acc["retain"])),
                                                          float(np.mean(ref_acc["test"])))
    eps_columns = {}
    boot = cfg["bootstrap"]
    draws = None
    if n >= boot["min_runs"]:
        draws = bootstrap.draw(boot["seed"], boot["resamples"], n, len(refs),
                               len(labels["forget"]))
    replicates = {}
    run_acc = {split: _acc(U[split], labels[split]) for split in ("retain", "test")}

    if cfg["scorer"] in ("local", "both"):
        local = cfg["local"]
        u_stats = scoring.local_statistic(U["forget"].double().numpy())
        std = scoring.local_noise_std(u_stats, local["noise_divisor"])
        r_stats = scoring.noisy_retrained_statistics(refs[0]["logits"]["forget"].double().numpy(),
                                                     n, std, local["noise_seed"])
        eps = scoring.local_epsilons(u_stats, r_stats, delta=local["delta"],
                                     n_splits=local["n_splits"],
                                     test_size=local_test_size(local["test_size"], n))
        m["local_forget_quality"] = scoring.local_forget_quality(eps)
        m["local_score"] = scoring.final_score(
            m["local_forget_quality"], m["retain_acc"], m["test_acc"],
            ref_acc["retain"][0], ref_acc["test"][0])
        eps_columns["local"] = eps
        if draws is not None:
            f_reps = local_quality_replicates(
                u_stats, refs[0]["logits"]["forget"].double().numpy(), draws,
                noise_divisor=local["noise_divisor"], delta=local["delta"],
                n_splits=local["n_splits"], test_size=local_test_size(local["test_size"], n))
            replicates["local_forget_quality"] = f_reps
            replicates["local_score"] = _score_replicates(
                f_reps, draws, run_acc, {k: v[:1] for k, v in ref_acc.items()}, False)

    if cfg["scorer"] in ("official", "both"):
        if len(refs) != n:
            raise UserError(f"retrain.seeds: the official scorer needs as many reference models "
                            f"as unlearning runs (unlearn.seeds), got {len(refs)} vs {n}")
        y = labels["forget"].numpy()
        u_conf = scoring.logit_scaled_confidence(U["forget"].double().numpy(), y)
        r_conf = scoring.logit_scaled_confidence(
            np.stack([r["logits"]["forget"].double().numpy() for r in refs]), y)
        f, eps = scoring.official_forget_quality(u_conf, r_conf, delta=cfg["official"]["delta"],
                                                 return_epsilons=True)
        m["official_forget_quality"] = f
        m["official_score"] = scoring.final_score(f, m["retain_acc"], m["test_acc"],
                                                  m["reference_retain_acc"], m["reference_test_acc"])
        eps_columns["official"] = eps
        if draws is not None:
            f_reps = official_quality_replicates(u_conf, r_conf, draws,
                                                 delta=cfg["official"]["delta"])
            replicates["official_forget_quality"] = f_reps
            replicates["official_score"] = _score_replicates(f_reps, draws, run_acc, ref_acc,
                                                             True)

    primary = "local" if cfg["scorer"] in ("local", "both") else "official"
    m["forget_quality"] = m[f"{primary}_forget_quality"]
    m["score"] = m[f"{primary}_score"]
    if draws is not None:
        replicates["forget_quality"] = replicates[f"{primary}_forget_quality"]
        replicates["score"] = replicates[f"{primary}_score"]
    add_intervals(m, replicates if draws is not None else None, boot)

    nomus = [scoring.nomus(acc, scoring.per_example_cross_entropy(U["forget"][i].double().numpy(), labels["forget"].numpy()),
                           scoring.per_example_cross_entropy(U["test"][i].double().numpy(), labels["test"].numpy()))
             for i, acc in enumerate(_acc(U["test"], labels["test"]))]
    m["mia"] = float(np.mean([x["mia"] for x in nomus]))
    m["nomus"] = float(np.mean([x["nomus"] for x in nomus]))

    m["unlearn_seconds"] = statistics.median(timing["seconds"])
    m["retrain_seconds"] = float(np.mean(ref_seconds))
    m["cost_ratio"] = m["unlearn_seconds"] / m["retrain_seconds"]
    m["over_cost_limit"] = bool(m["cost_ratio"] > cfg["cost_limit"])

    write_json(f"metrics/{method}.json", m)
    write_json(f"metrics/bootstrap/{method}.json", {
        "method": method, "seed": boot["seed"], "resamples": boot["resamples"],
        "n_runs": n, "n_reference": len(refs), "n_examples": len(labels["forget"]),
        "scorer": cfg["scorer"], "na": m.get("ci_na"),
        "replicates": {k: [float(x) for x in replicates[k]]
                       for k in CI_NAMES if k in replicates}})
    header = "example," + ",".join(f"epsilon_{k}" for k in eps_columns)
    rows = [",".join([str(i)] + [f"{eps_columns[k][i]:.6g}" for k in eps_columns])
            for i in range(len(labels["forget"]))]
    write_text(f"metrics/eps/{method}.csv", "\n".join([header] + rows) + "\n")
    print(f"{method}: score={m['score']:.4f} F={m['forget_quality']:.4f} "
          f"RA={m['retain_acc']:.3f} TA={m['test_acc']:.3f}")


if __name__ == "__main__":
    main()
