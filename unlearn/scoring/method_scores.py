"""Score one method's N runs against the reference retrained models, with intervals.

The scoring stage (stages/score.py) reads the files and writes the outputs; everything
between is here, so a benchmark (bench/power.py) can score any subset of runs the same
way. Scorers: `local` is the study's Kaggle scorer against the FIRST reference model;
`official` is the competition metric against all reference models (docs/scoring.md,
docs/pipeline.md#scores). Intervals (unlearn/scoring/bootstrap.py): each score gets `<name>_ci` = [low, high]
over replicates that redraw the runs, the reference models (official), the noise draw
(local) and the forget examples; with fewer runs than `min_runs` it is null and `ci_na`
says why.
"""
import numpy as np

from unlearn.scoring import bootstrap, klom, local as scoring
from unlearn.scoring.replicates import local_quality_replicates, official_quality_replicates
from unlearn.core.errors import UserError
from unlearn.core.metrics import accuracy

CI_NAMES = ("forget_quality", "score", "official_forget_quality", "official_score",
            "klom_forget", "klom_retain", "klom_test", "tow")
KLOM_SPLITS = ("forget", "retain", "test")


def _acc(logits, labels):
    return [accuracy(run, labels) for run in logits]


def diverged_runs(logits):
    """Runs whose model produced a non-finite logit on any split (the method diverged)."""
    n = len(next(iter(logits.values())))
    bad = np.zeros(n, dtype=bool)
    for value in logits.values():
        bad |= ~np.isfinite(np.asarray(value)).reshape(n, -1).all(1)
    return int(bad.sum())


def sanitize(logits):
    """A diverged run is still scored: its non-finite logits become 0 and its finite ones
    stay, so a row that is all NaN or ±inf predicts uniformly, while a row such as
    [inf, 1, 2] becomes [0, 1, 2]. The run still counts; `diverged_runs` says so. (A project
    choice: the study's notebook only zeroes rows that are entirely NaN.)"""
    return {split: np.nan_to_num(np.asarray(value), nan=0.0, posinf=0.0, neginf=0.0)
            for split, value in logits.items()}


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def local_test_size(test_size, n_runs):
    """The notebook's StratifiedShuffleSplit default (10% test) needs N ≥ 10 runs per side to
    leave one test example of each side; below that, `null` takes the smallest share that
    does (2 of the 2N pooled values). An explicit share is used as given."""
    if test_size is not None:
        return test_size
    return None if n_runs >= 10 else 2  # an int is a count for StratifiedShuffleSplit


def _score_replicates(f_reps, draws, run_acc, ref_acc, resample_refs, ref_index=None):
    try:
        return bootstrap.score_replicates(f_reps, draws, run_acc["retain"], run_acc["test"],
                                          ref_acc["retain"], ref_acc["test"],
                                          resample_refs=resample_refs, ref_index=ref_index)
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




def local_scores(forget_u, ref_forgets, run_acc, ref_acc, cfg, draws=None,
                 first_reference=False):
    """The local scorer on one method's runs: (F, score, per-example ε, F replicates, score
    replicates); the replicates are None without draws. forget_u [N, S, C] and ref_forgets
    [N_ref, S, C] are float64 numpy logits, accuracies per model. The score compares with the
    first reference model, as the study's notebook; each replicate with one reference model
    drawn by its reference weights (which model was trained is random too), or the first one
    in every replicate (first_reference)."""
    ref_forget = ref_forgets[0]
    n = forget_u.shape[0]
    local = cfg["local"]
    kw = dict(delta=local["delta"], n_splits=local["n_splits"],
              test_size=local_test_size(local["test_size"], n))
    u_stats = scoring.local_statistic(forget_u)
    std = scoring.local_noise_std(u_stats, local["noise_divisor"])
    r_stats = scoring.noisy_retrained_statistics(ref_forget, n, std, local["noise_seed"])
    eps = scoring.local_epsilons(u_stats, r_stats, **kw)
    f = scoring.local_forget_quality(eps)
    score = scoring.final_score(f, np.mean(run_acc["retain"]), np.mean(run_acc["test"]),
                                ref_acc["retain"][0], ref_acc["test"][0])
    if draws is None:
        return f, score, eps, None, None
    ref_index = (np.zeros(draws.resamples, np.intp) if first_reference
                 else draws.one_reference())
    f_reps = local_quality_replicates(u_stats, ref_forgets, draws, ref_index=ref_index,
                                      noise_divisor=local["noise_divisor"], **kw)
    return f, score, eps, f_reps, _score_replicates(f_reps, draws, run_acc, ref_acc, False,
                                                    ref_index)


def official_scores(forget_u, forget_refs, labels, run_acc, ref_acc, cfg, draws=None):
    """The competition metric on one method's runs against every reference model: (F, score,
    per-example ε, F replicates, score replicates). forget_u [N, S, C], forget_refs [N, S, C]."""
    u_conf = scoring.logit_scaled_confidence(forget_u, labels)
    r_conf = scoring.logit_scaled_confidence(forget_refs, labels)
    delta = cfg["official"]["delta"]
    f, eps = scoring.official_forget_quality(u_conf, r_conf, delta=delta, return_epsilons=True)
    score = scoring.final_score(f, np.mean(run_acc["retain"]), np.mean(run_acc["test"]),
                                np.mean(ref_acc["retain"]), np.mean(ref_acc["test"]))
    if draws is None:
        return f, score, eps, None, None
    f_reps = official_quality_replicates(u_conf, r_conf, draws, delta=delta)
    return f, score, eps, f_reps, _score_replicates(f_reps, draws, run_acc, ref_acc, True)


def klom_and_tow(run_logits, ref_logits, labels, cfg, draws=None):
    """{name: (value, replicates or None)} for KLoM on forget, retain and test (the runs
    against every reference model) and ToW, with the replicates' model weights (and, on the
    forget split, their example weights). run_logits: split -> [N, S, C] tensors; ref_logits:
    one split -> [S, C] dict per reference model."""
    k = cfg.get("klom", {})
    kw = dict(bins=k.get("bins", klom.BINS), clip=k.get("clip", klom.CLIP),
              percentile=k.get("percentile", klom.PERCENTILE))
    out = {}
    for split in KLOM_SPLITS:
        u = _f64(run_logits[split])
        r = np.stack([_f64(ref[split]) for ref in ref_logits])
        y = np.asarray(labels[split])
        value = klom.klom(u, r, y, **kw)
        reps = None if draws is None else klom.klom(
            u, r, y, weights_u=draws.runs, weights_r=draws.refs,
            example_weights=draws.examples if split == "forget" else None, **kw)
        out[f"klom_{split}"] = (value, reps)
    acc_u = {s: _acc(run_logits[s], labels[s]) for s in KLOM_SPLITS}
    acc_r = {s: [accuracy(ref[s], labels[s]) for ref in ref_logits] for s in KLOM_SPLITS}
    out["tow"] = (float(klom.tow(acc_u, acc_r)),
                  None if draws is None else klom.tow(acc_u, acc_r, draws.runs, draws.refs))
    return out


def between_originals(forget_u, ref_forgets, labels, run_acc, ref_acc, cfg, originals):
    """{score name: share of its variance between originals} for the scores the report ranks
    by (bootstrap.between_share of two one-level resamples, B = score.bootstrap.resamples each);
    None with the reason when it can't be told apart: one original, or one run per original
    (then between-original and between-run variation are the same thing)."""
    k, n = len(set(originals)), len(originals)
    if k == 1:
        return None, "one original model"
    if k == n:
        return None, "one run per original: between-original and between-run variation coincide"
    boot = cfg["bootstrap"]
    reps = {}
    for level in ("originals", "within"):
        d = bootstrap.level_draws(boot["seed"], boot["resamples"], originals, len(ref_forgets),
                                  forget_u.shape[1], level, boot["scheme"], cfg["local"]["noise_seed"])
        if cfg["scorer"] in ("local", "both"):   # its point estimate: the first reference model
            reps.setdefault("score", []).append(local_scores(
                forget_u, ref_forgets, run_acc, ref_acc, cfg, d, first_reference=True)[4])
        if cfg["scorer"] in ("official", "both"):
            reps.setdefault("official_score", []).append(official_scores(
                forget_u, ref_forgets, labels, run_acc, ref_acc, cfg, d)[4])
    if cfg["scorer"] == "official":
        reps["score"] = reps["official_score"]
    return {name: bootstrap.between_share(*pair) for name, pair in reps.items()}, None


def score_runs(method, run_logits, labels, refs, cfg, originals=None):
    """Metrics (dict) and bootstrap replicates (dict or None) of one method.

    run_logits: split -> [N, S, C] array of the N runs; labels: split -> [S];
    refs: one {"logits": split -> [S, C], "labels": ...} per reference model;
    cfg: the `score` params section; originals [N]: the original each run started from
    (its training seed; None = one original for all).
    """
    run_logits = {s: np.asarray(v) for s, v in run_logits.items()}   # (torch tensors too)
    labels = {s: np.asarray(v) for s, v in labels.items()}
    refs = [{"logits": {s: np.asarray(v) for s, v in r["logits"].items()},
             "labels": {s: np.asarray(v) for s, v in r["labels"].items()}} for r in refs]
    U, diverged = sanitize(run_logits), diverged_runs(run_logits)
    n = len(next(iter(run_logits.values())))
    originals = list(originals) if originals is not None else [0] * n
    if len(originals) != n:
        raise UserError(f"runs.pt: {len(originals)} originals listed for {n} runs")
    m = {"method": method, "n_runs": n, "n_originals": len(set(originals)),
         "diverged_runs": diverged, "n_reference": len(refs), "scorer": cfg["scorer"]}
    for split in ("retain", "forget", "test", "val"):
        m[f"{split}_acc"] = float(np.mean(_acc(U[split], labels[split])))
    ref_acc = {s: [accuracy(r["logits"][s], r["labels"][s]) for r in refs] for s in ("retain", "test")}
    m["reference_retain_acc"], m["reference_test_acc"] = (float(np.mean(ref_acc["retain"])),
                                                          float(np.mean(ref_acc["test"])))
    boot = cfg["bootstrap"]
    draws = None
    if n >= boot["min_runs"]:
        draws = bootstrap.draw(boot["seed"], boot["resamples"], n, len(refs),
                               len(labels["forget"]), boot["scheme"], boot["resample_examples"],
                               groups=originals)
    run_acc = {split: _acc(U[split], labels[split]) for split in ("retain", "test")}
    forget_u = _f64(U["forget"])
    ref_forgets = np.stack([_f64(r["logits"]["forget"]) for r in refs])
    eps_columns, replicates = {}, {}
    results = {}
    if cfg["scorer"] in ("local", "both"):
        results["local"] = local_scores(forget_u, ref_forgets, run_acc, ref_acc, cfg, draws)
    if cfg["scorer"] in ("official", "both"):
        if len(refs) != n:
            raise UserError(f"retrain.seeds: the official scorer needs as many reference models "
                            f"as unlearning runs (runs.seeds), got {len(refs)} vs {n}")
        results["official"] = official_scores(forget_u, ref_forgets, labels["forget"],
                                              run_acc, ref_acc, cfg, draws)
    for scorer, (f, score, eps, f_reps, s_reps) in results.items():
        m[f"{scorer}_forget_quality"], m[f"{scorer}_score"] = f, score
        eps_columns[scorer] = eps
        if draws is not None:
            replicates[f"{scorer}_forget_quality"], replicates[f"{scorer}_score"] = f_reps, s_reps

    agreement = klom_and_tow(U, [r["logits"] for r in refs], labels, cfg, draws)
    for name, (value, reps) in agreement.items():
        m[name] = value
        if draws is not None:
            replicates[name] = reps

    primary = "local" if cfg["scorer"] in ("local", "both") else "official"
    m["forget_quality"] = m[f"{primary}_forget_quality"]
    m["score"] = m[f"{primary}_score"]
    if draws is not None:
        replicates["forget_quality"] = replicates[f"{primary}_forget_quality"]
        replicates["score"] = replicates[f"{primary}_score"]
    add_intervals(m, replicates if draws is not None else None, boot)
    if draws is not None:
        m["between_originals"], reason = between_originals(
            forget_u, ref_forgets, labels["forget"], run_acc, ref_acc, cfg, originals)
        if reason:
            m["between_originals_na"] = reason

    nomus = [scoring.nomus(acc, scoring.per_example_cross_entropy(_f64(U["forget"][i]), labels["forget"]),
                           scoring.per_example_cross_entropy(_f64(U["test"][i]), labels["test"]))
             for i, acc in enumerate(_acc(U["test"], labels["test"]))]
    m["mia"] = float(np.mean([x["mia"] for x in nomus]))
    m["nomus"] = float(np.mean([x["nomus"] for x in nomus]))

    return m, (replicates if draws is not None else None), eps_columns


# What `dvc metrics show / diff` and `dvc exp show` display per method: the primary score
# with its interval bounds, the official score when computed, forget quality and the
# accuracies. Everything else a method's scoring computes is in its detail file.
HEADLINE = ("score", "score_low", "score_high", "official_score", "forget_quality",
            "retain_acc", "test_acc", "forget_acc")


def headline(m):
    """The few numbers of a method's scores that DVC's views show, flat (no lists)."""
    low, high = m.get("score_ci") or (None, None)
    flat = {**m, "score_low": low, "score_high": high}
    return {k: flat[k] for k in HEADLINE if k in flat}
