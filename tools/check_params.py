"""Check the whole params.yaml at once, every listed method's section included.

A stage checks only the params it reads (so that it imports, and depends on, only the code
it runs): a bad `unlearn.salun` value stops `unlearn@salun`, not `generate`. `make repro`
runs this first, so a typo anywhere stops the pipeline in a second, before any training.

    python -m tools.check_params [params.yaml]
"""
import sys

from stages.common import PARAMS_FILE, entry_point, load_params
from unlearn.methods import validate_all_params


@entry_point
def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else str(PARAMS_FILE)
    params = validate_all_params(load_params(path), source=path)
    print(f"{path}: valid ({len(params['unlearn']['methods'])} methods checked)")


if __name__ == "__main__":
    main()
