"""Stage: run one unlearning method once per seed in `unlearn.seeds`, from the original.

Writes models/unlearned/<method>/:
  runs.pt      logits of every run on every split, stacked [N, S, C], with labels/seeds
  model.pt     full checkpoint of the first `unlearn.keep_checkpoints` runs (model.pt,
               then model_seed<k>.pt for the others)
and metrics/timing/<method>.json: wall-clock seconds of each run's method call (not
evaluation), kept apart from the models because it differs between identical runs.
Each run is `unlearn.runner.run_unlearning`, a pure function of its inputs, so the loop
below is the piece to hand to a distributed engine when there are hundreds of seeds.
"""
import argparse
from pathlib import Path

import torch

from stages.common import entry_point, load_params
from unlearn.atomic import atomic_dir, torch_save, write_json
from unlearn.data import load_prepared, read_num_classes
from unlearn.errors import UserError
from unlearn.methods import method_config
from unlearn.model import load_checkpoint, pick_device, save_checkpoint
from unlearn.recipes import resolve_recipe
from unlearn.runner import EVAL_SPLITS, run_unlearning


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("method")
    method = parser.parse_args(argv).method
    params = load_params()
    section = params["unlearn"]
    if method not in section["methods"]:
        raise UserError(f"unlearn.methods: {method!r} is not listed {section['methods']}")
    cfg = method_config(method, section.get(method))
    seeds = section["seeds"]
    if method == "retrain":  # calibration models must not reuse the scorer's reference seeds
        clash = {cfg["seed_offset"] + s for s in seeds} & set(params["retrain"]["seeds"])
        if clash:
            raise UserError(f"unlearn.retrain.seed_offset: seeds {sorted(clash)} are also "
                            "reference seeds in retrain.seeds; choose a larger offset")
    device = pick_device(params["device"])
    splits = load_prepared("data/prepared")
    # A pulled checkpoint must fit this project's model and data before anything runs.
    model, ckpt = load_checkpoint("models/original/model.pt",
                                  arch=params["train"].get("arch", "resnet18"),
                                  num_classes=read_num_classes("data/prepared"))
    recipe = resolve_recipe(params["train"])

    out = Path(f"models/unlearned/{method}")
    # Build the whole folder aside and swap it in at the end: no half-written runs.
    with atomic_dir(out) as tmp:
        logits = {s: [] for s in EVAL_SPLITS}
        seconds = []
        for i, seed in enumerate(seeds):
            print(f"[{method}] run {i + 1}/{len(seeds)} (seed {seed})", flush=True)
            result = run_unlearning(method, cfg, ckpt["state_dict"], splits, seed=seed,
                                    device=device, num_classes=ckpt["num_classes"],
                                    arch=ckpt["arch"], train_recipe=recipe)
            for s in EVAL_SPLITS:
                logits[s].append(result.logits[s])
            seconds.append(result.seconds)
            if i < section.get("keep_checkpoints", 1):
                name = "model.pt" if i == 0 else f"model_seed{seed}.pt"
                save_checkpoint(result.model, tmp / name, arch=ckpt["arch"],
                                num_classes=ckpt["num_classes"],
                                extra={"method": method, "seed": seed})
        torch_save({"method": method, "seeds": list(seeds),
                    "logits": {s: torch.stack(v) for s, v in logits.items()},
                    "labels": {s: splits[s].labels for s in EVAL_SPLITS}}, tmp / "runs.pt")
    write_json(f"metrics/timing/{method}.json", {"seeds": list(seeds), "seconds": seconds})


if __name__ == "__main__":
    main()
