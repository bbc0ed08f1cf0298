"""Getting MUFAC: download the published archive, check it, unpack it atomically.

The archive is the one Choi & Na publish, linked from the README of
https://github.com/ndb796/MachineUnlearning (commit 9813cd75f959e535575e0ba5e5bd2d4d40348165)
and fetched by its notebooks with `?download=1` (01_MUFAC/Machine_Unlearning_MUFAC_Base_Models.ipynb
at that commit). It unpacks to the three CSVs and three image folders of MUFAC's layout
(unlearn/data/mufac.py), at the archive's root or under one top-level folder.

Every step fails with a one-line UserError naming what is wrong, and leaves nothing
half-written: a download goes to `<archive>.part` and is renamed only once complete, an
archive is unpacked into a hidden folder beside the target and renamed onto it only after
every check passed (a failed unpack removes that folder). Nothing here knows DVC: the entry
point is tools/fetch_mufac.py.
"""
import csv
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from unlearn.core.errors import UserError
from unlearn.data.mufac import COLUMNS, DATASET_DIRNAME, SPLITS, csv_name, images_dirname

MUFAC_URL = ("https://postechackr-my.sharepoint.com/:u:/g/personal/dongbinna_postech_ac_kr/"
             "EbMhBPnmIb5MutZvGicPKggBWKm5hLs0iwKfGW7_TwQIKg?download=1")
ARCHIVE_NAME = f"{DATASET_DIRNAME}.zip"
# Rows of each CSV in the published data (the README above: 10,025 / 1,539 / 1,504 images).
MUFAC_ROWS = {"train": 10025, "val": 1539, "test": 1504}
CHUNK = 1 << 20


def download(url, dest, timeout=60.0):
    """`url` saved as `dest`, via `dest.part`; a truncated transfer (fewer bytes than the
    server announced) or an unreachable host is a UserError and leaves no `dest`."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            size = response.headers.get("Content-Length")
            size = int(size) if size and size.isdigit() else None
            got = 0
            with open(part, "wb") as out, tqdm(total=size, unit="B", unit_scale=True,
                                               desc=dest.name, disable=None) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        part.unlink(missing_ok=True)
        raise UserError(f"{url}: the server answered {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        part.unlink(missing_ok=True)
        reason = getattr(e, "reason", None) or e
        raise UserError(f"{url}: unreachable ({reason})") from None
    if size is not None and got != size:
        part.unlink(missing_ok=True)
        raise UserError(f"{url}: truncated download, got {got} of {size} bytes; run it again")
    os.replace(part, dest)
    return dest


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_archive(path, expected_sha256=None, digest=None):
    """The archive is a whole zip (its CRCs hold), matches `expected_sha256` when given (its
    `digest`, when the caller has it already), and no entry leaves its folder; returns the
    prefix under which the dataset's files lie ("" or "<folder>/")."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: archive not found")
    if expected_sha256:
        digest = digest or sha256(path)
        if digest != expected_sha256.lower():
            raise UserError(f"{path}: SHA-256 {digest} is not the expected {expected_sha256}")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path}: not a zip archive (a truncated or interrupted download?)")
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = PurePosixPath(info.filename)
            is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
            if name.is_absolute() or ".." in name.parts or "\\" in info.filename or is_link:
                raise UserError(f"{path}: entry {info.filename!r} escapes the archive's folder; "
                                "not unpacking it")
        try:
            broken = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise UserError(f"{path}: damaged zip archive ({e})") from None
        if broken is not None:
            raise UserError(f"{path}: entry {broken!r} is damaged (CRC mismatch)")
        names = [n for n in archive.namelist() if PurePosixPath(n).name == csv_name("train")]
    if not names:
        raise UserError(f"{path}: no {csv_name('train')} inside; not MUFAC's archive")
    return str(PurePosixPath(names[0]).parent) + "/" if "/" in names[0] else ""


def check_layout(root, expected_rows=None):
    """`root` laid out as MUFAC: each CSV with its columns (and, when given, its number of
    rows), and every image_path present in its split's folder; the first problem named."""
    root = Path(root)
    for split in SPLITS:
        table, images = root / csv_name(split), root / images_dirname(split)
        for path in (table, images):
            if not path.exists():
                raise UserError(f"{path.name}: missing from the dataset ({root} is not MUFAC's "
                                "layout)")
        with open(table, newline="") as f:
            rows = list(csv.DictReader(f))
        header = set(rows[0]) if rows else set()
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise UserError(f"{table.name}: no column {missing[0]!r}; expected {', '.join(COLUMNS)}")
        want = (expected_rows or {}).get(split)
        if want is not None and len(rows) != want:
            raise UserError(f"{table.name}: {len(rows)} rows, the published data has {want}")
        absent = [r["image_path"] for r in rows if not (images / r["image_path"]).is_file()]
        if absent:
            raise UserError(f"{images.name}/{absent[0]}: missing, named by {table.name} "
                            f"({len(absent)} of {len(rows)} images missing)")
    return root


def unpack(archive, target, expected_rows=None, expected_sha256=None, digest=None):
    """Check `archive`, unpack it and check the layout, then move it onto `target` (which
    must not exist). A failure at any step leaves `target` as it was and no partial folder."""
    target = Path(target)
    if target.exists():
        raise UserError(f"{target}: already there; remove it to fetch again")
    prefix = check_archive(archive, expected_sha256, digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as z:
            z.extractall(work)
        root = work / prefix if prefix else work
        check_layout(root, expected_rows)
        os.replace(root, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def copy_folder(source, target, expected_rows=None):
    """An unpacked copy the user has: checked, then copied onto `target` atomically."""
    check_layout(source, expected_rows)
    target = Path(target)
    if target.exists():
        raise UserError(f"{target}: already there; remove it to fetch again")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        shutil.copytree(source, work / "copy")
        os.replace(work / "copy", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
