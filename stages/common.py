"""What every stage script shares: read params.yaml, validate it, report errors in one line."""
import functools
import sys
import time
from pathlib import Path

import yaml

from unlearn.core import profiling
from unlearn.core.errors import UserError
from unlearn.core.params import validate_params

PARAMS_FILE = Path("params.yaml")
# Default paths of the stage scripts' command-line arguments, the ones dvc.yaml passes; the
# library (unlearn/) takes every path from its caller.
PREPARED_DIR = Path("data/prepared")   # the prepare stage's output
# What the score stage writes, one folder per kind of file, each a whole output of the stage
# (dvc.yaml): exactly the listed methods' files, with no list of files kept by hand. The
# headline folder is the DVC metric, so it holds nothing else.
SCORES_DIR = Path("metrics/scores")
DETAILS_DIR = Path("metrics/score_details")
REPLICATES_DIR = Path("metrics/score_replicates")


def original_dir(seed):
    """Where train_original@<seed> writes the original model trained with that seed."""
    return Path(f"models/original/seed_{seed}")


def original_assignment(original_seeds, n_runs):
    """The original each unlearning run starts from: run k from original k mod K, so the N
    runs spread evenly over the K originals (the first N mod K originals get one run more)."""
    return [original_seeds[k % len(original_seeds)] for k in range(n_runs)]


def score_files(method, scores=SCORES_DIR, details=DETAILS_DIR, replicates=REPLICATES_DIR):
    """{metrics, detail, bootstrap, eps}: the paths of one method's score outputs (metrics:
    the few headline numbers DVC shows; detail: every score, interval and record), in the
    given folders (the score stage's arguments; by default the paths dvc.yaml passes it)."""
    scores, details, replicates = Path(scores), Path(details), Path(replicates)
    return {"metrics": scores / f"{method}.json",
            "detail": details / f"{method}.detail.json",
            "bootstrap": replicates / f"{method}.bootstrap.json",
            "eps": details / f"{method}.eps.csv"}


def read_params_yaml(path, what="params file", hint=""):
    """A YAML file of params sections (params.yaml, a preset) as a dict; a missing file,
    broken YAML or a top level that is not a mapping is a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: {what} not found{hint}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of params sections at top level")
    return data


def load_params(path=PARAMS_FILE):
    """The whole params.yaml, validated against the schema (unknown keys, wrong types)."""
    params = read_params_yaml(path, hint=" (run from the repo root)")
    return validate_params(params, source=str(path))


def entry_point(fn):
    """Run a stage's main(); a UserError becomes one line on stderr and exit status 1.

    With UNLEARN_PROFILE set, the stage's wall-time phases are recorded (unlearn/core/profiling.py).
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.time()
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            for line in str(e).splitlines():   # several problems: one line each
                print(f"error: {line}", file=sys.stderr)
            sys.exit(1)
        finally:
            profiling.record(started)
    return wrapper
