"""Check the whole params.yaml at once: every section, every listed method's section, the
folders the data params name; every problem is printed, one line each.

A stage checks only the params it reads; this checks them all. The pipeline's first stage,
`check_params` (`python -m stages.check_params`), runs the same checks whenever params.yaml
changes, and every other stage depends on it: a bad value stops `dvc repro` or
`dvc exp run` before DVC removes any stage's outputs.

    python -m tools.check_params [params.yaml] [--device]
"""
import argparse

from stages.common import PARAMS_FILE, entry_point, read_params_yaml
from unlearn.validation import validate_all_params


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("params", nargs="?", default=str(PARAMS_FILE),
                        help="the params file (default: params.yaml)")
    parser.add_argument("--device", action="store_true",
                        help="also check that this machine runs the configured device and "
                             "precision (imports torch)")
    args = parser.parse_args(argv)
    params = validate_all_params(read_params_yaml(args.params, hint=" (run from the repo root)"),
                                 source=args.params, device=args.device, folders=True)
    print(f"{args.params}: valid ({len(params['unlearn'])} methods checked)")


if __name__ == "__main__":
    main()
