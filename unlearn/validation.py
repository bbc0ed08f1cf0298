"""The whole params file checked at once, every problem reported, before anything runs.

A stage checks only the params it reads; this module checks them all: every section parsed by
its class (unlearn/core/params.py, unlearn/core/sections.py), every listed method's overrides
against its config class (unlearn/methods), the folders the data params name, and whether this
machine can run the configured executor, device and precision. The pipeline's first stage (`check_params`, which
every other stage depends on) runs it whenever params.yaml changes, so a bad value stops
`dvc repro` / `dvc exp run` before DVC removes any stage's outputs; `tools.apply_preset`
runs it before it writes.
"""
from pathlib import Path

from unlearn.core.errors import UserError
from unlearn.core.executor import check_executor
from unlearn.core.params import clean_sections, collect, params_problems, raise_problems
from unlearn.core.sections import ComputeConfig
from unlearn.data.mufac import DATASET_DIRNAME, SPLITS, csv_name, images_dirname
from unlearn.data.synthetic import check_generate_out
from unlearn.methods import get_method, method_names


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
        raise UserError(f"data.root: {root} not found; fetch MUFAC there with `python -m "
                        f"tools.fetch_mufac` (docs/dataset.md#using-real-mufac) or point "
                        f"data.root at a copy of {DATASET_DIRNAME}")
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
    ok = clean_sections(params, errors)   # the checks below assume parsed sections
    if "executor" in params and {"executor", "compute"} <= ok:
        # this machine's cores hold the workers, each of compute.threads threads
        threads = ComputeConfig.parse(params.get("compute"), "compute").threads
        collect(errors, check_executor, params["executor"], threads=threads)
    if folders and "generate" in params and "generate" in ok:
        collect(errors, check_generate_out, params["generate"]["out"], base)
    if folders and "data" in params and {"data", "generate"} <= ok and not generated(params):
        collect(errors, check_data_root, params["data"]["root"], base)
    if isinstance(params.get("unlearn"), dict) and "unlearn" in ok:
        errors.extend(method_problems(params, ok))
    if device and not errors:
        collect(errors, check_device, params)
    return errors


def method_problems(params, ok):
    """Each listed method: a registered name, its overrides valid for its config class, and
    the config's rules across sections (e.g. the retrain row's seeds) when those are clean."""
    errors, known = [], method_names()
    for name, section in params["unlearn"].items():
        if name not in known:
            errors.append(f"unlearn.{name}: unknown method; registered: {', '.join(known)}")
            continue
        cfg, problems = get_method(name).config.problems(section, f"unlearn.{name}")
        errors.extend(problems)
        if cfg is not None and {"runs", "retrain"} <= ok and {"runs", "retrain"} <= set(params):
            errors.extend(cfg.cross_check(params))
    return errors


def validate_all_params(params, source="params.yaml", device=False, folders=False):
    """`params` unchanged when valid; else one UserError listing every problem."""
    raise_problems(all_problems(params, source, device, folders))
    return params
