"""Every params section but `unlearn`, declared once: each key's type, default, one-line note
and value check (unlearn/core/config.py), nested sub-sections as nested classes.

    executor   ExecutorConfig          where the runs of a stage go
    compute    ComputeConfig           how each model computes
    generate   GenerateConfig          the synthetic stand-in (families, duplicates)
    data       DataConfig              which dataset, at what size, which CSV plays which role
    prepare    PrepareConfig           the forget set (forget) and the duplicate audit
    train      TrainConfig             the recipe of the original and retrained models
    original   OriginalModelsConfig    the original models' training seeds
    retrain    ReferenceModelsConfig    the reference retrained models' seeds
    runs       RunsConfig              the unlearning runs
    score      ScoreConfig             scorers (local, official, klom) and intervals (bootstrap)

`device` is a scalar and `unlearn` maps methods to their own config classes; both are
checked by unlearn/core/params.py, which also says which keys a params file must spell out
(a key it may omit gets the default here; a default of a key it must give is the shipped
value). Rules across the keys of a section are each class's `validate`; the checks that
need this machine or the disk (cores and GPUs for the executor, data.root's layout,
generate.out's contents) are not value checks: unlearn/core/executor.py and
unlearn/validation.py.

The closed sets and limits that a section and the code using it share live here
(PRECISIONS, AUGMENTATIONS, FORGET_MODES, DUPLICATE_POLICIES, SCHEMES, ...) and are imported
by that code. This module imports no torch, numpy, pandas or PIL: the score and report
stages validate their params with it (tests/test_sections.py).
"""
from typing import Literal, get_args

from unlearn.core.checks import (at_least, count_or_auto, distinct_seeds, in_unit_interval, low_high,
                                 non_negative, non_negative_or_auto, open_unit_interval,
                                 percentile, positive, positive_or_auto, share_below_one,
                                 share_or_count, strictly_inside_unit)
from unlearn.core.config import Config, config, inherit, param

# ---- closed sets and limits shared with the code that uses them ------------------------
ExecutorKind = Literal["local", "ray"]
KINDS = get_args(ExecutorKind)
Precision = Literal["fp32", "bf16", "auto"]
PRECISIONS = get_args(Precision)
HeldOut = Literal["val", "test"]          # the MUFAC CSVs that can select or test
HELD_OUT = get_args(HeldOut)
ForgetMode = Literal["random", "first", "identity"]
FORGET_MODES = get_args(ForgetMode)
DuplicatePolicy = Literal["report", "drop"]
DUPLICATE_POLICIES = get_args(DuplicatePolicy)
MAX_NEAR_THRESHOLD = 64     # pHash bits of 256: a quarter; unrelated photos differ in about half
Preset = Literal["study", "choi_na"]      # unlearn/training/recipes.py's PRESETS
Arch = Literal["resnet18"]
ARCHITECTURES = get_args(Arch)
Optimizer = Literal["adam", "sgd"]
OPTIMIZERS = get_args(Optimizer)
Augment = Literal["none", "flip", "choi_na"]   # unlearn/training/augment.py
AUGMENTATIONS = get_args(Augment)
Scorer = Literal["local", "official", "both"]
Scheme = Literal["bayesian", "multinomial"]    # unlearn/scoring/bootstrap.py
SCHEMES = get_args(Scheme)
MAX_FAMILY_ID = 9999        # synthetic family IDs are F%04d
IMAGE_SIZES = (8, 1024)     # decoded size, inclusive


# ---- value checks that need this module's limits (the generic ones: unlearn/core/checks.py)
def split_address(address):
    """(host, port) of a Ray head's `host:port`, or None when `address` is not one."""
    if not isinstance(address, str):
        return None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def ray_address(value):
    return (None if split_address(value) else
            f"expected host:port of a Ray head or null, got {value!r}")


def _image_size(value):
    low, high = IMAGE_SIZES
    return None if low <= value <= high else f"must be in {low}..{high}, got {value}"


def _near_threshold(value):
    if not 0 <= value <= MAX_NEAR_THRESHOLD:
        return f"expected an integer number of bits in 0..{MAX_NEAR_THRESHOLD}, got {value!r}"
    return None


# ---- executor, compute -----------------------------------------------------------------
@config
class ExecutorConfig(Config):
    """Where the N runs of a stage go (unlearn/core/executor.py); never changes a result.
    Resolved for this machine's cores and GPUs by executor.check_executor."""
    kind: ExecutorKind = param("local", "local: worker processes on this machine; ray: Ray "
                                        "tasks (docs/cluster.md)")
    workers: int | Literal["auto"] = param(
        "auto", "runs at once; auto = cores / compute.threads, on GPUs workers_per_gpu × GPUs "
                "(capped by cores)", count_or_auto)
    workers_per_gpu: int | Literal["auto"] = param(
        "auto", "most runs sharing one GPU; auto = placement.AUTO_WORKERS_PER_GPU",
        count_or_auto)
    address: str | None = param(None, "ray: null = a Ray instance on this machine; host:port = "
                                      "that cluster's head", ray_address)
    num_cpus: float | Literal["auto"] = param("auto", "ray: CPUs per run; auto = compute.threads",
                                              positive_or_auto)
    num_gpus: float | Literal["auto"] = param(
        "auto", "ray: GPUs per run, a fraction shares one; auto = 1/workers_per_gpu with GPUs, "
                "else 0", non_negative_or_auto)
    max_retries: int = param(3, "ray: reruns of a task whose worker or node died", at_least(0))


@config
class ComputeConfig(Config):
    """How each model computes (unlearn/core/compute.py); results depend on it."""
    threads: int = param(1, "intra-op threads per run; CPU bytes differ between 1 and 2",
                         at_least(1))
    precision: Precision = param("auto", "fp32 | bf16 (autocast) | auto = bf16 on a GPU that "
                                         "has it, else fp32")
    channels_last: bool | Literal["auto"] = param("auto", "NHWC memory format; auto = on CUDA")
    cudnn_benchmark: bool | Literal["auto"] = param(
        "auto", "cuDNN times its algorithms per shape; auto = on CUDA unless deterministic")
    deterministic: bool = param(True, "CUDA: deterministic kernels, TF32 off")
    compile: bool = param(False, "torch.compile the model (compiling takes minutes)")
    fused_optimizer: bool = param(True, "Adam / SGD as one fused kernel")
    eval_batch_size: int | Literal["auto"] = param(
        "auto", "images per forward pass when computing logits (saved logits, best-epoch "
                "evaluation, teachers' targets); auto = 1024, fewer for images over 45 px so "
                "that a pass holds about 0.25 GB (128 at 128 px)", count_or_auto)

    def validate(self):
        if self.deterministic and self.cudnn_benchmark is True:
            return ["cudnn_benchmark: true lets cuDNN choose algorithms by timing them, which "
                    "deterministic: true rules out; set one to false"]
        return []


# ---- generate --------------------------------------------------------------------------
def family_starts(families):
    """First family number per split ({split: count} → {split: number}): 1, 801, 851 as on
    MUFAC while the counts fit, each split after the room of the one before."""
    return _family_numbers(families)[0]


def _family_numbers(families):
    """(first family number per split, the last number the layout takes)."""
    starts, nxt = {}, 1
    for split, floor, room in (("train", 1, 800), ("val", 801, 50), ("test", None, 50)):
        start = max(nxt, floor if floor is not None else nxt)
        starts[split] = start
        nxt = start + max(room, families[split])
    return starts, nxt - 1


@config
class FamiliesConfig(Config):
    """Families per split; IDs F0001.., F0801.., F0851.. as on MUFAC."""
    train: int = param(24, "train families", at_least(1))
    val: int = param(6, "val families", at_least(1))
    test: int = param(6, "test families", at_least(1))


@config
class PlantingConfig(Config):
    """Planted copies, as MUFAC has them (unlearn/data/planted.py)."""
    within_train: int = param(0, "train photos copied under another train family and name",
                              at_least(0))
    across_splits: int = param(0, "train photos copied into a val or test family", at_least(0))
    reencoded: float = param(0.0, "share of the copies saved again as JPEG 75: near, not exact",
                             in_unit_interval)


@config
class GenerateConfig(Config):
    """The bundled synthetic stand-in, in MUFAC's layout (unlearn/data/synthetic.py)."""
    seed: int = param(0, "same seed, byte-identical files")
    out: str = param("data/synthetic", "the folder written, replaced whole by each run")
    families: FamiliesConfig = param(FamiliesConfig, "families per split")
    persons_per_family: list[int] = param([3, 6], "inclusive [low, high]", low_high)
    photos_per_person: list[int] = param([3, 8], "inclusive [low, high]", low_high)
    label_noise: float = param(0.1, "share of photos whose recorded class is a neighbour's, "
                                    "in [0, 1)", share_below_one)
    duplicates: PlantingConfig = param(PlantingConfig, "planted copies (none by default)")

    def validate(self):
        out = []
        families = self.families.to_dict()
        if _family_numbers(families)[1] > MAX_FAMILY_ID:
            out.append(f"families: {sum(families.values())} families do not fit IDs "
                       f"F0001..F{MAX_FAMILY_ID}")
        if self.duplicates.within_train and self.families.train < 2:
            out.append("duplicates.within_train: needs at least 2 train families (a copy goes "
                       "to another family)")
        return out


# ---- data, prepare ---------------------------------------------------------------------
@config
class DataConfig(Config):
    """Which dataset, decoded at what size, and which CSV plays which role."""
    root: str = param("data/synthetic/custom_korean_family_dataset_resolution_128",
                      "the dataset folder, laid out as MUFAC")
    image_size: int = param(16, "decoded size in pixels (PIL bilinear); MUFAC's own is 128",
                            _image_size)
    selection_split: HeldOut = param("val", "the CSV that picks the best epoch")
    test_split: HeldOut = param("test", "the CSV reported as test accuracy")

    def validate(self):
        if self.selection_split == self.test_split:
            return [f"test_split: {self.test_split!r} is selection_split too; they must name "
                    f"different CSVs"]
        return []


@config
class ForgetConfig(Config):
    """Which training images are forgotten (unlearn/data/forget.py)."""
    mode: ForgetMode = param("random", "random | first (the first rows of the train CSV) | "
                                       "identity (whole persons)")
    count: int | None = param(50, "random: images; first: rows; identity: persons", at_least(1))
    fraction: float | None = param(None, "random only, instead of count: share of train in "
                                         "(0, 1)", open_unit_interval)
    seed: int = param(0, "seeds the random and identity draws")

    def validate(self):
        out = []
        if self.mode == "random" and (self.count is None) == (self.fraction is None):
            out.append(f"count: set exactly one of count and fraction for random mode (got "
                       f"count={self.count!r}, fraction={self.fraction!r})")
        if self.mode != "random" and self.fraction is not None:
            out.append(f"fraction: only for random mode; {self.mode} mode takes count")
        if self.mode != "random" and self.count is None:
            out.append(f"count: required for {self.mode} mode")
        return out


@config
class PrepareConfig(Config):
    """The forget set and the duplicate audit (unlearn/data/duplicates.py)."""
    forget: ForgetConfig = param(ForgetConfig, "the forget set")
    duplicates: DuplicatePolicy = param("report", "report: list the copies | drop: also remove "
                                                  "the copies that leak")
    near_threshold: int = param(16, f"pHash bits (of 256) in which near duplicates may differ; "
                                    f"0..{MAX_NEAR_THRESHOLD}", _near_threshold)


# ---- train, seeds, runs ----------------------------------------------------------------
@config
class TrainConfig(Config):
    """The original and reference models' recipe: a preset (unlearn/training/recipes.py)
    whose values the recipe keys, when given, override (null = the preset's)."""
    preset: Preset = param("study", "study | choi_na")
    arch: Arch = param("resnet18", "the classifier")
    optimizer: Optimizer | None = param(None, "adam or sgd")
    lr: float | None = param(None, "learning rate", positive)
    weight_decay: float | None = param(None, "the optimiser's L2 penalty", non_negative)
    momentum: float | None = param(None, "SGD momentum; unused by adam", non_negative)
    epochs: int | None = param(None, "passes over the training set", at_least(1))
    batch_size: int | None = param(None, "images per step", at_least(1))
    milestones: list[int] | None = param(None, "epochs after which the lr is multiplied by gamma")
    gamma: float | None = param(None, "the lr factor at each milestone", positive)
    augment: Augment | None = param(None, "none | flip | choi_na")
    select_best: bool | None = param(None, "keep the best-validation epoch, else the last")

    def recipe_overrides(self):
        """{key: value} of the recipe keys given (all but preset and arch)."""
        return {k: v for k, v in self.to_dict().items()
                if k not in ("preset", "arch") and v is not None}


@config
class OriginalModelsConfig(Config):
    """The original models: one per training seed; unlearning run k starts from original
    k mod K (docs/runs.md)."""
    seeds: list[int] = param([0], "training seeds, distinct", distinct_seeds)


@config
class ReferenceModelsConfig(OriginalModelsConfig):
    """The reference models, retrained without the forget set, one per seed."""
    seeds: list[int] = inherit([1, 2, 3, 4, 5], "reference seeds, distinct")


@config
class RunsConfig(Config):
    """The unlearning runs: each method once per seed."""
    seeds: list[int] = param([0, 1, 2, 3, 4], "one run per seed, distinct", distinct_seeds)
    keep_checkpoints: int = param(1, "full checkpoints of the first K runs", at_least(0))


# ---- score -----------------------------------------------------------------------------
@config
class LocalScoreConfig(Config):
    """The study's scorer (docs/scoring.md#local-score)."""
    delta: float = param(0.01, "δ of the local scorer, in [0, 1)", share_below_one)
    noise_divisor: float = param(10.0, "noise std = std(unlearned statistics) / this", positive)
    noise_seed: int = param(0, "seed of the noisy retrained copies")
    n_splits: int = param(3, "splits of the logistic-regression attack", at_least(1))
    test_size: int | float | None = param(None, "null: the notebook's 10% when N ≥ 10, else 2 "
                                                "of the 2N values", share_or_count)


@config
class OfficialScoreConfig(Config):
    """The competition's metric (docs/scoring.md#official-score)."""
    delta: float = param(1e-5, "δ of the official metric, in [0, 1)", share_below_one)


@config
class KlomConfig(Config):
    """KLoM: margin histograms, unlearned vs retrained (unlearn/scoring/klom.py)."""
    bins: int = param(20, "histogram bins spanning both samples' margins", at_least(2))
    clip: float = param(100.0, "margins clipped to ±clip", positive)
    percentile: float = param(95.0, "a split's KLoM: this percentile over its examples",
                              percentile)


@config
class BootstrapConfig(Config):
    """Intervals on the scores (unlearn/scoring/bootstrap.py)."""
    resamples: int = param(1000, "replicates, paired across methods (same seed)", at_least(1))
    level: float = param(0.95, "central share of the percentile interval, strictly in (0, 1)",
                         strictly_inside_unit)
    seed: int = param(0, "seed of all resampling draws")
    min_runs: int = param(5, "fewer runs per method: no interval", at_least(2))
    scheme: Scheme = param("multinomial", "multinomial (draws with replacement) | bayesian "
                                          "(Dirichlet weights)")
    resample_examples: bool = param(True, "also reweight the forget examples")


@config
class ScoreConfig(Config):
    """Scorers and intervals (stages/score.py, docs/scoring.md)."""
    scorer: Scorer = param("both", "local (the study's) | official (the competition's) | both")
    local: LocalScoreConfig = param(LocalScoreConfig, "the local scorer")
    official: OfficialScoreConfig = param(OfficialScoreConfig, "the official scorer")
    klom: KlomConfig = param(KlomConfig, "KLoM")
    cost_limit: float = param(0.2, "the competition rejects methods slower than this share of "
                                   "retraining", non_negative)
    bootstrap: BootstrapConfig = param(BootstrapConfig, "intervals")
