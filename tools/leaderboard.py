"""Print the leaderboard: one row per method, best score first, with the score's interval,
its rank group (rows sharing a letter are not told apart), rank and cost.

    python -m tools.leaderboard                 # the workspace (after `dvc repro`)
    python -m tools.leaderboard HEAD~1          # a commit, branch or tag
    python -m tools.leaderboard exp-1a2b3       # an experiment (`dvc exp show` names it)
    python -m tools.leaderboard main exp-1a2b3  # two side by side, with the change in score
    python -m tools.leaderboard --markdown      # as a Markdown table

Reads metrics/leaderboard.json, which the report stage writes: from the working tree, or
from git for a commit or an experiment (DVC keeps each experiment as a commit under
refs/exps/). Run from the repository root.
"""
import argparse
import json
import subprocess
from pathlib import Path

from stages.common import entry_point
from unlearn.core.errors import UserError
from unlearn.scoring import leaderboard

BOARD = "metrics/leaderboard.json"
WORKSPACE = "workspace"


def _git(*args):
    proc = subprocess.run(["git", *args], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def resolve(rev):
    """The commit of an experiment name or a git revision."""
    refs = (_git("for-each-ref", "--format=%(refname) %(objectname)", "refs/exps") or "").split("\n")
    for line in filter(None, refs):
        ref, sha = line.split()
        if ref.rsplit("/", 1)[-1] == rev:
            return sha
    sha = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if not sha:
        raise UserError(f"{rev}: neither a git revision nor an experiment name "
                        "(`git log`, `dvc exp list` list them)")
    return sha


def load(rev):
    """The saved leaderboard of the workspace or of a revision / experiment."""
    if rev == WORKSPACE:
        path = Path(BOARD)
        if not path.is_file():
            raise UserError(f"{BOARD}: not found; run `dvc repro` (from the repository root)")
        return json.loads(path.read_text())
    text = _git("show", f"{resolve(rev)}:{BOARD}")
    if text is None:
        raise UserError(f"{rev}: holds no {BOARD} (made before the report wrote one); "
                        "`dvc exp show` / `dvc metrics show` still list its scores")
    return json.loads(text)


@entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revs", nargs="*", metavar="REV|EXP",
                        help=f"none: the workspace; one: that run; two: side by side "
                             f"('{WORKSPACE}' names the working tree)")
    parser.add_argument("--markdown", action="store_true", help="one run as a Markdown table")
    args = parser.parse_args(argv)
    if len(args.revs) > 2:
        raise UserError(f"at most two runs to compare, got {len(args.revs)}")
    revs = args.revs or [WORKSPACE]
    boards = [load(r) for r in revs]
    if args.markdown:
        if len(boards) != 1:
            raise UserError("--markdown prints one run")
        print(leaderboard.render_markdown(boards[0]))
    elif len(boards) == 1:
        print(leaderboard.render(boards[0], revs[0]))
    else:
        print(leaderboard.compare(*boards, revs))


if __name__ == "__main__":
    main()
