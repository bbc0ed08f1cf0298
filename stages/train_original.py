"""Stage: train one original model on the whole train set (retain ∪ forget) for the training
seed given on the command line; dvc.yaml runs it once per seed in `original.seeds`, so adding
a seed trains only the new model."""
import argparse

from stages.common import entry_point, load_params, original_dir
from stages.train_model import train_and_save
from unlearn.core.errors import UserError


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("seed", type=int)
    seed = parser.parse_args(argv).seed
    params = load_params()
    if seed not in params["original"]["seeds"]:
        raise UserError(f"original.seeds: seed {seed} is not listed {params['original']['seeds']}")
    train_and_save(params, name=f"original_{seed}", on="train", seed=seed,
                   out_dir=original_dir(seed))


if __name__ == "__main__":
    main()
