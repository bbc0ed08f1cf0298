"""Stage: score one method's runs against the reference retrained models.

Reads models/unlearned/<method>/ (logits of N runs) and models/retrained/seed_<k>/
(one logits file per reference seed). Writes metrics/scores/<method>.json, the DVC metric:
a few headline numbers (unlearn.scoring.method_scores.HEADLINE), so that `dvc metrics show`
and `dvc exp show` stay readable; metrics/scores/<method>.detail.json, every score, interval
and record; and the per-example ε table metrics/scores/<method>.eps.csv for `dvc plots`.
No wall-clock time goes in: a reproduction on another machine writes the same bytes (the
report takes the cost from metrics/timing/).

Scorers (score.scorer): `local` is the study's Kaggle scorer (docs/scoring.md#local-score)
against the FIRST reference model; `official` is the competition metric
(docs/scoring.md#official-score) against all reference models, which needs as many reference
seeds as unlearning seeds. `forget_quality` and `score` hold the local scorer's values unless
only `official` is asked for; the `scorer` field says which.

Intervals (score.bootstrap, unlearn/scoring/bootstrap.py): each score gets `<name>_ci` = [low, high],
a percentile interval over replicates that redraw the runs, the reference models (official),
the noise draw (local) and the forget examples. The replicate values themselves go to
metrics/scores/<method>.bootstrap.json for the report, which pairs them across methods (same seed,
same draws) to rank the methods. With fewer runs than score.bootstrap.min_runs there is no
interval: `<name>_ci` is null and `ci_na` says why.
"""
import argparse
from pathlib import Path

import numpy as np
import torch

from stages.common import entry_point, load_params, score_files
from unlearn.core.atomic import write_json, write_text
from unlearn.core.errors import UserError
from unlearn.scoring import computed_on
from unlearn.scoring.method_scores import CI_NAMES, headline, score_runs


def _load(path):
    if not Path(path).is_file():
        raise UserError(f"{path}: not found (run the stage that writes it)")
    try:
        return torch.load(path, weights_only=True)
    except Exception as e:  # truncated or corrupt file, e.g. a damaged pull
        raise UserError(f"{path}: corrupt or unreadable ({type(e).__name__})") from None


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("method")
    method = parser.parse_args(argv).method
    params = load_params()
    cfg = params["score"]
    runs = _load(f"models/unlearned/{method}/runs.pt")
    refs = [_load(f"models/retrained/seed_{k}/logits.pt") for k in params["retrain"]["seeds"]]

    m, replicates, eps_columns = score_runs(method, runs["logits"], runs["labels"], refs, cfg,
                                            originals=runs.get("originals"))
    m.update(test_split=params["data"]["test_split"], val_split=params["data"]["selection_split"])
    n, labels, boot = m["n_runs"], runs["labels"], cfg["bootstrap"]
    replicates = replicates or {}

    stats = runs.get("stats") or []
    keys = sorted({k for run in stats for k in run})
    if keys:  # the method's own diagnostics, e.g. ssd's share of dampened weights
        m["method_stats"] = {k: float(np.mean([run[k] for run in stats if k in run])) for k in keys}
    m["computed_on"] = {"runs": computed_on.labels(runs.get("compute")),
                        "references": computed_on.labels([ref.get("compute") for ref in refs])}

    out = score_files(method)
    write_json(out["detail"], m)
    write_json(out["metrics"], headline(m))
    write_json(out["bootstrap"], {
        "method": method, "seed": boot["seed"], "resamples": boot["resamples"],
        "scheme": boot["scheme"], "resample_examples": boot["resample_examples"],
        "n_runs": n, "originals": list(runs.get("originals") or [0] * n), "n_reference": len(refs), "n_examples": len(labels["forget"]),
        "scorer": cfg["scorer"], "na": m.get("ci_na"),
        "replicates": {k: [float(x) for x in replicates[k]]
                       for k in CI_NAMES if k in replicates}})
    header = "example," + ",".join(f"epsilon_{k}" for k in eps_columns)
    rows = [",".join([str(i)] + [f"{eps_columns[k][i]:.6g}" for k in eps_columns])
            for i in range(len(labels["forget"]))]
    write_text(out["eps"], "\n".join([header] + rows) + "\n")
    print(f"{method}: score={m['score']:.4f} F={m['forget_quality']:.4f} "
          f"RA={m['retain_acc']:.3f} TA={m['test_acc']:.3f}")


if __name__ == "__main__":
    main()
