"""Stage: train one reference retrained model (retain only) for the seed given on the
command line; dvc.yaml runs it once per seed in `retrain.seeds`, so adding a seed
trains only the new model."""
import argparse

from stages.common import entry_point, load_params
from stages.train_model import train_and_save
from unlearn.core.errors import UserError


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("seed", type=int)
    seed = parser.parse_args(argv).seed
    params = load_params()
    if seed not in params["retrain"]["seeds"]:
        raise UserError(f"retrain.seeds: seed {seed} is not listed {params['retrain']['seeds']}")
    train_and_save(params, name=f"retrained_{seed}", on="retain", seed=seed,
                   out_dir=f"models/retrained/seed_{seed}")


if __name__ == "__main__":
    main()
