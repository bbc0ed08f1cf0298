"""One training run, start to finish: fit a ResNet-18 on the prepared splits and write its
artifacts. What the train_original and train_retrained stages run (stages/train_original.py,
stages/train_retrained.py); every path comes from the caller.

Writes <out_dir>/model.pt (checkpoint), <out_dir>/logits.npz + logits.json (eval logits and
labels on every split, as numpy, so scoring never reruns a model nor imports torch),
<metrics>.json (accuracies, best epoch), <metrics>.timing.json (wall-clock seconds, kept
apart because it differs between identical runs) and the dvclive folder <metrics>/ of
per-epoch curves for `dvc plots`.
"""
import time

import torch
from dvclive import Live

from unlearn.core import compute, logits_file, profiling
from unlearn.core.progress import Progress
from unlearn.core.atomic import atomic_dir, write_json
from unlearn.data.splits import Split, load_prepared, read_num_classes
from unlearn.training.model import build_model, pick_device, save_checkpoint
from unlearn.training.recipes import resolve_recipe
from unlearn.data.splits import EVAL_SPLITS
from unlearn.core.metrics import accuracy
from unlearn.training.train import fit, logits_of


def train_and_save(params, *, name, on, seed, prepared, out_dir, metrics):
    """Train on `on` ("train" = retain ∪ forget, or "retain") with the params' recipe.

    prepared: the prepare stage's folder; out_dir: the model's folder (replaced whole);
    metrics: the dvclive folder, and with .json / .timing.json the metric files; name: the
    run's name in progress lines."""
    recipe = resolve_recipe(params["train"])
    arch = params["train"].get("arch", "resnet18")
    device = pick_device(params["device"])
    fast = compute.resolve(params.get("compute"), device)
    compute.apply_to_process(fast, device)
    with profiling.phase("load data"):   # on the device once: batches are gathered there
        splits = {name: split.to(device) for name, split in load_prepared(prepared).items()}
    train_set = splits["retain"]
    if on == "train":   # retain then forget in one tensor, the two splits views of it:
        train_set = Split.concat([splits["retain"], splits["forget"]])   # held once
        n = len(splits["retain"])
        splits["retain"], splits["forget"] = train_set.rows(0, n), train_set.rows(n, None)
    num_classes = read_num_classes(prepared)

    torch.manual_seed(seed)
    model = compute.prepare_model(build_model(num_classes, arch).to(device), fast)
    live = Live(dir=str(metrics), save_dvc_exp=False, dvcyaml=False)

    progress = Progress(recipe["epochs"], name, unit="epoch")

    def on_epoch(epoch, values):
        for key, value in values.items():
            live.log_metric(key, value)
        live.next_step()
        progress.step(", ".join(f"{k} {v:.3f}" for k, v in values.items()))

    start = time.perf_counter()
    with profiling.phase("train"), compute.scope(fast, device):
        model, history, best_epoch = fit(model, train_set, splits["val"], recipe,
                                         generator=torch.Generator().manual_seed(seed),
                                         device=device, on_epoch=on_epoch, desc=name)
    seconds = time.perf_counter() - start
    progress.close()
    live.end()

    with profiling.phase("logits"):   # in fp32 whatever the training precision
        logits = {s: logits_of(model, splits[s].images, device, fast["eval_batch_size"])
                  for s in EVAL_SPLITS}
    labels = {s: splits[s].labels.cpu() for s in EVAL_SPLITS}
    record = compute.record(fast, device)   # what computed it, for the report
    with profiling.phase("save"), atomic_dir(out_dir) as tmp:
        save_checkpoint(model, tmp / "model.pt", arch=arch, num_classes=num_classes,
                        extra={"seed": seed, "trained_on": on, "best_epoch": best_epoch,
                               "compute": record})
        logits_file.save(tmp / "logits", logits, labels, {"seed": seed, "compute": record})
    scores = {f"{s}_acc": accuracy(logits[s], labels[s]) for s in EVAL_SPLITS}
    # a DVC metric: measured numbers only (the seed and epochs are params, in the path and
    # the checkpoint), so that `dvc metrics show` stays a few columns
    scores.update(best_epoch=best_epoch)
    write_json(f"{metrics}.json", scores)
    write_json(f"{metrics}.timing.json", {"seconds": seconds})
    print(f"{name}: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in scores.items()))
