"""The whole params file checked at once, every problem reported, before anything runs.

A stage checks only the params it reads; this module checks them all: the schema
(unlearn/core/params.py), every section's value rules, every listed method's section against
its registered defaults, the folders the data params name, and whether this machine can run
the configured device and precision. The pipeline's first stage (`check_params`, which
every other stage depends on) runs it whenever params.yaml changes, so a bad value stops
`dvc repro` / `dvc exp run` before DVC removes any stage's outputs; `tools.apply_preset`
runs it before it writes.
"""
from pathlib import Path

from unlearn.core.errors import UserError
from unlearn.core.params import (clean_sections, collect, method_names, params_problems,
                                 raise_problems)
from unlearn.data.duplicates import check_duplicates_config
from unlearn.data.forget import check_forget_config
from unlearn.data.mufac import DATASET_DIRNAME, SPLITS, check_roles, csv_name, images_dirname
from unlearn.data.synthetic import check_config, check_generate_out
from unlearn.methods import method_config
from unlearn.unlearning.checks import check_calibration_seeds


def generated(params):
    """Whether data.root lies inside what the generate stage writes."""
    gen = params.get("generate")
    if not gen:
        return False
    root, out = Path(params["data"]["root"]), Path(gen["out"])
    return root == out or out in root.parents


def check_data_root(root, base="."):
    """data.root laid out as MUFAC: the folder, its three CSVs and image folders (the
    first missing one named). Contents are checked by the prepare stage."""
    root = Path(base) / root
    if not root.is_dir():
        raise UserError(f"data.root: {root} not found; put the dataset folder "
                        f"({DATASET_DIRNAME}) there (docs/dataset.md#using-real-mufac) or "
                        f"point data.root at it")
    for split in SPLITS:
        for name in (csv_name(split), images_dirname(split)):
            if not (root / name).exists():
                raise UserError(f"data.root: {root / name} missing; {root} is not laid out as "
                                f"MUFAC (docs/dataset.md)")


def check_device(params):
    """The device and precision resolve on this machine (e.g. `cuda` with no GPU, bf16 on a
    GPU older than Ampere); imports torch, so only for the pipeline's check stage."""
    from unlearn.core import compute
    from unlearn.training.model import pick_device
    compute.resolve(compute.check_compute(params.get("compute")), pick_device(params["device"]))


def all_problems(params, source="params.yaml", device=False, folders=False):
    """Every problem of a params mapping, one line each; [] when it is valid. Paths in it
    are relative to the params file's folder (the repository root); `folders=True` adds
    the checks of what is on disk (data.root's layout, generate.out's contents)."""
    base = Path(source).parent
    errors = params_problems(params, source)
    if not isinstance(params, dict):
        return errors
    ok = clean_sections(params, errors)   # the value rules below assume the schema's types
    if "generate" in params and "generate" in ok:
        collect(errors, check_config, params["generate"])
        if folders:
            collect(errors, check_generate_out, params["generate"]["out"], base)
    if "data" in params and "data" in ok:
        collect(errors, check_roles, params["data"]["selection_split"],
                params["data"]["test_split"])
        if folders and "generate" in ok and not generated(params):
            collect(errors, check_data_root, params["data"]["root"], base)
    if "prepare" in params and "prepare" in ok:
        collect(errors, check_forget_config, params["prepare"]["forget"])
        collect(errors, check_duplicates_config, params["prepare"])
    if "train" in params and "train" in ok:
        from unlearn.training.recipes import resolve_recipe
        collect(errors, resolve_recipe, params["train"])
    unlearn = params.get("unlearn")
    listed = unlearn.get("methods") if isinstance(unlearn, dict) else None
    if isinstance(listed, list):   # each registered method's own section, even when
        known = method_names()     # another unlearn key is wrong
        for name in (m for m in listed if isinstance(m, str) and m in known):
            cfg = collect(errors, method_config, name, unlearn.get(name))
            if (name == "retrain" and cfg is not None and "unlearn" in ok and "retrain" in params
                    and "retrain" in ok):
                collect(errors, check_calibration_seeds, cfg, unlearn["seeds"],
                        params["retrain"]["seeds"])
    if device and not errors:
        collect(errors, check_device, params)
    return errors


def validate_all_params(params, source="params.yaml", device=False, folders=False):
    """`params` unchanged when valid; else one UserError listing every problem."""
    raise_problems(all_problems(params, source, device, folders))
    return params
