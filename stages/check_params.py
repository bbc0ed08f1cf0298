"""Stage: check every params value before any other stage runs (unlearn/validation.py).

DVC removes a stage's outputs before it runs the stage's command, so a bad value caught by
the stage that reads it would cost that stage's results. Every other stage depends on this
stage's output, so DVC runs it first whenever params.yaml or the checking code changes; a
problem stops the whole `dvc repro` / `dvc exp run` with every problem listed, one line each,
before anything is removed.

The output holds the same bytes for every valid params file, so a change that passes the
checks reruns, downstream, only the stages whose own params or code changed.
`python -m stages.check_params [--out data/params_checked]` (dvc.yaml passes the path).
"""
import argparse

from stages.common import PARAMS_FILE, entry_point, read_params_yaml
from unlearn.core.atomic import write_text
from unlearn.validation import validate_all_params

OUT = "data/params_checked"


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=OUT, help="file to write (default: %(default)s)")
    out = parser.parse_args(argv).out
    validate_all_params(read_params_yaml(PARAMS_FILE, hint=" (run from the repo root)"),
                        source=str(PARAMS_FILE), device=True, folders=True)
    write_text(out, "params.yaml passed unlearn/validation.py's checks\n")


if __name__ == "__main__":
    main()
