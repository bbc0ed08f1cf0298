"""Stage: train the original model on the whole train set (retain ∪ forget)."""
from stages.common import entry_point, load_params
from stages.train_model import train_and_save


@entry_point
def main():
    params = load_params()
    train_and_save(params, name="original", on="train", seed=params["train"]["seed"],
                   out_dir="models/original")


if __name__ == "__main__":
    main()
