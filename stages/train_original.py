"""Stage: train one original model on the whole train set (retain ∪ forget) for the training
seed given on the command line; dvc.yaml runs it once per seed in `original.seeds`, so adding
a seed trains only the new model. The paths come from dvc.yaml's cmd; the defaults are the
same paths (unlearn/training/run.py writes the files)."""
import argparse

from stages.common import PREPARED_DIR, entry_point, load_params, original_dir
from unlearn.core.errors import UserError
from unlearn.training.run import train_and_save


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("seed", type=int)
    parser.add_argument("--prepared", default=str(PREPARED_DIR),
                        help="the prepare stage's folder (default: %(default)s)")
    parser.add_argument("--out", help="the model's folder (default: models/original/seed_<seed>)")
    parser.add_argument("--metrics", help="dvclive folder; with .json and .timing.json the "
                                          "metric files (default: metrics/train/original_<seed>)")
    args = parser.parse_args(argv)
    seed = args.seed
    params = load_params()
    if seed not in params["original"]["seeds"]:
        raise UserError(f"original.seeds: seed {seed} is not listed {params['original']['seeds']}")
    train_and_save(params, name=f"original_{seed}", on="train", seed=seed,
                   prepared=args.prepared, out_dir=args.out or original_dir(seed),
                   metrics=args.metrics or f"metrics/train/original_{seed}")


if __name__ == "__main__":
    main()
