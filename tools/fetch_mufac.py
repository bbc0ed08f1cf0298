"""Fetch MUFAC into data/mufac/: download the published archive (or take a copy you have),
check it, unpack it atomically, and track it with DVC.

    python -m tools.fetch_mufac                    # download from Choi & Na's link
    python -m tools.fetch_mufac --archive PATH.zip # an archive you already have
    python -m tools.fetch_mufac --folder PATH      # an unpacked copy you already have
    python -m tools.fetch_mufac --dvc-add          # then `dvc add` the folder

The result is data/mufac/custom_korean_family_dataset_resolution_128, where
presets/mufac.yaml points `data.root` (docs/dataset.md#using-real-mufac). Checks: the archive
is a whole zip whose entries stay in its folder (and has the given SHA-256), each CSV has
MUFAC's columns and the published number of rows (10,025 / 1,539 / 1,504), and every
image_path is there. Any failure is one line `error: ...`, exit status 1, and leaves no
partial download or folder; run it again after fixing the cause.

Why a tool and not a pipeline stage: DVC runs every stage of the repository's dvc.yaml on
`dvc repro`, and the default pipeline must run offline on the bundled synthetic data. Why
not `dvc import-url`: the link is a SharePoint share whose ETag DVC cannot check, and the
pipeline depends on the unpacked folder, not on the zip; `dvc add` of the checked folder is
what `prepare` reads and what `dvc push` / `dvc pull` move, without a second copy.
"""
import argparse
import subprocess
import sys
from pathlib import Path

from stages.common import entry_point
from unlearn import fetch
from unlearn.core.errors import UserError
from unlearn.data.mufac import DATASET_DIRNAME


def rows_arg(text):
    """train=10025,val=1539,test=1504 (or `none` to skip the row counts)."""
    if text == "none":
        return None
    try:
        return {k: int(v) for k, v in (part.split("=") for part in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected train=N,val=N,test=N, got {text!r}") from None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--url", default=fetch.MUFAC_URL, help="where to download the archive")
    source.add_argument("--archive", type=Path, help="a zip you already have (no download)")
    source.add_argument("--folder", type=Path, help="an unpacked copy you already have")
    parser.add_argument("--out", type=Path, default=Path("data/mufac"),
                        help="the folder that receives %(prog)s's result (default: %(default)s)")
    parser.add_argument("--sha256", help="the archive's expected SHA-256")
    parser.add_argument("--rows", type=rows_arg, default=fetch.MUFAC_ROWS,
                        help="rows per CSV, train=N,val=N,test=N or none (default: MUFAC's)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per network read")
    parser.add_argument("--dvc-add", action="store_true", help="run `dvc add` on the result")
    return parser.parse_args(argv)


@entry_point
def main(argv=None):
    args = parse_args(argv)
    target = args.out / DATASET_DIRNAME
    if target.exists():
        fetch.check_layout(target, args.rows)
        print(f"{target}: already there and laid out as MUFAC; nothing to do")
    elif args.folder is not None:
        fetch.copy_folder(args.folder, target, args.rows)
    else:
        archive, downloaded = args.archive, False
        if archive is None:
            archive = args.out / fetch.ARCHIVE_NAME
            if not archive.is_file():
                print(f"downloading {args.url}", file=sys.stderr)
                fetch.download(args.url, archive, timeout=args.timeout)
                downloaded = True
        digest = fetch.sha256(archive) if archive.is_file() else None   # read once: printed too
        try:
            fetch.unpack(archive, target, args.rows, args.sha256, digest)
        except UserError:
            if downloaded:      # a rerun downloads again rather than reusing a bad archive
                archive.unlink(missing_ok=True)
            raise
        print(f"{archive}: SHA-256 {digest}")
    print(f"{target}: ready")
    if args.dvc_add:
        proc = subprocess.run(["dvc", "add", str(target)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise UserError(f"dvc add {target}: {proc.stderr.strip().splitlines()[-1]}")
        print(f"tracked: git add {target}.dvc {args.out / '.gitignore'} && git commit")
    else:
        print(f"next: dvc add {target}; python -m tools.apply_preset presets/mufac.yaml")


if __name__ == "__main__":
    main()
