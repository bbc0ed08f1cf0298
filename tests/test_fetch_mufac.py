"""Fetching MUFAC (tools/fetch_mufac.py, unlearn/fetch.py) against a loopback HTTP server that
serves small archives in MUFAC's layout: a good one lands and the reader reads it; a truncated
download, a wrong checksum, an entry escaping the archive, a missing image and an unreachable
host each give one line `error: ...`, exit 1 and leave nothing half-written; a rerun after the
fix completes."""
import csv
import hashlib
import http.server
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from unlearn.data.mufac import DATASET_DIRNAME, read_mufac
from unlearn.fetch import ARCHIVE_NAME

ROOT = Path(__file__).resolve().parents[1]


def zip_folder(folder, dest, prefix="", extra=()):
    """`folder`'s files zipped under `prefix` (plus (name, bytes) entries as they are)."""
    with zipfile.ZipFile(dest, "w") as z:
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            z.write(path, prefix + path.relative_to(folder).as_posix())
        for name, data in extra:
            z.writestr(name, data)
    return dest


def rows_of(root):
    return ",".join(f"{s}={sum(1 for _ in csv.DictReader(open(root / f'custom_{s}_dataset.csv')))}"
                    for s in ("train", "val", "test"))


class Handler(http.server.SimpleHTTPRequestHandler):
    """Files from the served folder; /truncated/<name> announces the whole file but sends
    half of it and closes the connection."""

    def do_GET(self):
        if self.path.startswith("/truncated/"):
            data = (Path(self.directory) / self.path.split("/", 2)[2]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_mufac):
    """(base URL, folder served, rows) of a loopback server with good and bad archives."""
    folder = tmp_path_factory.mktemp("served")
    zip_folder(tiny_mufac, folder / "good.zip")
    zip_folder(tiny_mufac, folder / "nested.zip", prefix=f"{DATASET_DIRNAME}/")
    zip_folder(tiny_mufac, folder / "evil.zip", extra=[("../escaped.txt", b"outside")])
    broken = tmp_path_factory.mktemp("broken") / DATASET_DIRNAME
    shutil.copytree(tiny_mufac, broken)
    first = next(csv.DictReader(open(broken / "custom_train_dataset.csv")))["image_path"]
    (broken / "train_images" / first).unlink()
    zip_folder(broken, folder / "missing.zip")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: Handler(*a, directory=str(folder), **k))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder, rows_of(tiny_mufac)
    server.shutdown()
    server.server_close()


def fetch(out, *args):
    return subprocess.run([sys.executable, "-m", "tools.fetch_mufac", "--out", str(out), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def error_line(proc):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def left_behind(out):
    """Everything under `out` but a complete archive: a partial download or folder, or data."""
    return sorted(p.name for p in Path(out).iterdir() if not p.name.endswith(".zip")) \
        if Path(out).exists() else []


@pytest.mark.parametrize("name", ["good.zip", "nested.zip"])
def test_a_good_archive_lands_and_the_reader_reads_it(served, tmp_path, name):
    url, folder, rows = served
    proc = fetch(tmp_path / "out", "--url", f"{url}/{name}", "--rows", rows)
    assert proc.returncode == 0, proc.stderr
    target = tmp_path / "out" / DATASET_DIRNAME
    sha = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    assert f"SHA-256 {sha}" in proc.stdout
    data = read_mufac(target, image_size=16, progress=False)
    assert sum(len(s) for s in (data.train, data.val, data.test)) == sum(
        int(p.split("=")[1]) for p in rows.split(","))
    again = fetch(tmp_path / "out", "--rows", rows)        # already there: checked, kept
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_a_truncated_download_leaves_nothing(served, tmp_path):
    url, _, rows = served
    line = error_line(fetch(tmp_path / "out", "--url", f"{url}/truncated/good.zip", "--rows", rows))
    assert "truncated download" in line
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_wrong_checksum_unpacks_nothing_and_the_right_one_completes(served, tmp_path):
    url, folder, rows = served
    out = tmp_path / "out"
    line = error_line(fetch(out, "--url", f"{url}/good.zip", "--rows", rows, "--sha256", "0" * 64))
    assert "SHA-256" in line and "is not the expected" in line
    assert left_behind(out) == [] and not (out / ARCHIVE_NAME).exists()
    right = hashlib.sha256((folder / "good.zip").read_bytes()).hexdigest()
    assert fetch(out, "--url", f"{url}/good.zip", "--rows", rows, "--sha256", right).returncode == 0
    assert (out / DATASET_DIRNAME / "custom_train_dataset.csv").is_file()


def test_an_entry_escaping_the_archive_is_refused(served, tmp_path):
    url, _, rows = served
    out = tmp_path / "deep" / "out"
    line = error_line(fetch(out, "--url", f"{url}/evil.zip", "--rows", rows))
    assert "'../escaped.txt' escapes the archive's folder" in line
    assert left_behind(out) == [] and not (out.parent / "escaped.txt").exists()


def test_a_missing_image_is_named_and_nothing_half_unpacked_stays(served, tmp_path):
    url, _, rows = served
    out = tmp_path / "out"
    line = error_line(fetch(out, "--url", f"{url}/missing.zip", "--rows", rows))
    assert "missing, named by custom_train_dataset.csv (1 of" in line
    assert left_behind(out) == []


def test_an_unreachable_host_is_one_line(tmp_path):
    with socket.socket() as s:          # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = error_line(fetch(tmp_path / "out", "--url", f"http://127.0.0.1:{port}/x.zip",
                            "--timeout", "5"))
    assert "unreachable" in line
    assert left_behind(tmp_path / "out") == []


def test_wrong_row_counts_and_a_folder_copy(served, tiny_mufac, tmp_path):
    _, _, rows = served
    line = error_line(fetch(tmp_path / "a", "--folder", str(tiny_mufac)))   # MUFAC's counts
    assert "custom_train_dataset.csv:" in line and "the published data has 10025" in line
    assert not (tmp_path / "a" / DATASET_DIRNAME).exists()
    assert fetch(tmp_path / "b", "--folder", str(tiny_mufac), "--rows", rows).returncode == 0
    assert (tmp_path / "b" / DATASET_DIRNAME / "custom_test_dataset.csv").is_file()
