"""Stage: train one reference retrained model (retain only) for the seed given on the
command line; dvc.yaml runs it once per seed in `retrain.seeds`, so adding a seed
trains only the new model. The paths come from dvc.yaml's cmd; the defaults are the
same paths (unlearn/training/run.py writes the files)."""
import argparse

from stages.common import PREPARED_DIR, entry_point, load_params
from unlearn.core.errors import UserError
from unlearn.training.run import train_and_save


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("seed", type=int)
    parser.add_argument("--prepared", default=str(PREPARED_DIR),
                        help="the prepare stage's folder (default: %(default)s)")
    parser.add_argument("--out", help="the model's folder (default: models/retrained/seed_<seed>)")
    parser.add_argument("--metrics", help="dvclive folder; with .json and .timing.json the "
                                          "metric files (default: metrics/train/retrained_<seed>)")
    args = parser.parse_args(argv)
    seed = args.seed
    params = load_params()
    if seed not in params["retrain"]["seeds"]:
        raise UserError(f"retrain.seeds: seed {seed} is not listed {params['retrain']['seeds']}")
    train_and_save(params, name=f"retrained_{seed}", on="retain", seed=seed,
                   prepared=args.prepared, out_dir=args.out or f"models/retrained/seed_{seed}",
                   metrics=args.metrics or f"metrics/train/retrained_{seed}")


if __name__ == "__main__":
    main()
