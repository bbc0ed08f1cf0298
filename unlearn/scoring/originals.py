"""The report's words on training seeds: how many originals the runs started from, which run
came from which, and how much of each score's variance lies between originals."""


def assignment(originals) -> str:
    """'seed 0: runs 1, 3, 5; seed 1: runs 2, 4' (runs numbered from 1 in run order)."""
    by = {}
    for k, o in enumerate(originals):
        by.setdefault(o, []).append(str(k + 1))
    return "; ".join(f"seed {o}: run{'s' if len(r) > 1 else ''} {', '.join(r)}"
                     for o, r in by.items())


def headline(n_runs, originals, n_reference) -> str:
    k = len(set(originals))
    what = (f"from one original model (training seed {originals[0]}; the intervals hold for "
            f"this original and leave out how another training seed would differ)" if k == 1 else
            f"from K = {k} original models trained with different seeds (run k from original "
            f"k mod K: {assignment(originals)})")
    return (f"N = {n_runs} unlearning runs per method {what}, {n_reference} reference retrained "
            f"model(s). Scores at another N or K are not comparable: the metrics' resolution "
            f"and bias depend on N, and K decides how much training-seed variation they include.")


def render(rows, scores=("score", "official_score")) -> str:
    """A section on the share of variance between originals; '' with one original."""
    first = rows[0]
    if first.get("n_originals", 1) <= 1 or "between_originals" not in first:
        return ""
    text = ("## Training seeds\n\n"
            "The intervals resample the original models first, then the runs within each drawn "
            "original. Between originals: the share of a score's variance that comes from which "
            "originals were drawn, V_orig / (V_orig + V_within), from two resamplings of one "
            "level each (references, examples and noise held fixed).\n\n")
    if first.get("between_originals") is None:
        return text + f"Not estimable here: {first.get('between_originals_na')}.\n\n"
    names = [s for s in scores if s in first["between_originals"]]
    lines = ["| method | " + " | ".join(f"between originals, {s}" for s in names) + " |",
             "|---|" + "---|" * len(names)]
    for r in rows:
        share = r.get("between_originals") or {}
        cells = ["n/a" if share.get(s) is None else f"{share[s] * 100:.0f} %" for s in names]
        lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
    return text + "\n".join(lines) + "\n\n"
