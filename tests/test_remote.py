"""Sharing checkpoints through a DVC remote: a real S3-compatible server on 127.0.0.1.

moto's standalone server runs in this process for the module; the tiny repo pushes to
it (outputs and run-cache) with the README's commands, and fresh `git clone`s pull from
it. Nothing leaves the loopback interface, and no real credentials are read: every
AWS_* variable and the user's ~/.aws files are hidden for the module.
"""
import hashlib
import os
import socket
import tempfile
from pathlib import Path

import pytest
import yaml

from pipeline_repo import commit, copy_repo, dvc, ran_stages, run

BUCKET = "unlearn-bench"
REMOTE_URL = f"s3://{BUCKET}/cache"
KEY, SECRET = "test-key", "test-secret"   # moto accepts any credentials
CHECKPOINT = "models/original/seed_0/model.pt"


@pytest.fixture(scope="module")
def aws_env(tmp_path_factory):
    """No real AWS configuration or credentials can leak into (or out of) the tests."""
    empty = tmp_path_factory.mktemp("aws") / "empty"
    empty.write_text("")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                mp.delenv(name)
        mp.setenv("AWS_CONFIG_FILE", str(empty))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield mp


@pytest.fixture(scope="module")
def s3(aws_env):
    """A moto S3 server on a free loopback port, with one empty bucket; stopped after."""
    import boto3
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id=KEY, aws_secret_access_key=SECRET)
        client.create_bucket(Bucket=BUCKET)
        yield type("S3", (), {"endpoint": endpoint, "client": client})
    finally:
        server.stop()


def set_credentials(repo):
    """As in the README: credentials go to .dvc/config.local, which git never sees."""
    dvc(repo, "remote", "modify", "--local", "storage", "access_key_id", KEY)
    dvc(repo, "remote", "modify", "--local", "storage", "secret_access_key", SECRET)


@pytest.fixture(scope="module")
def origin(tmp_path_factory, s3):
    """The tiny repo after the README's remote set-up, `dvc push --run-cache` and a commit."""
    repo = copy_repo(tmp_path_factory.mktemp("remote") / "origin")
    dvc(repo, "remote", "add", "-d", "storage", REMOTE_URL)
    dvc(repo, "remote", "modify", "storage", "endpointurl", s3.endpoint)
    set_credentials(repo)
    dvc(repo, "push", "--run-cache")
    commit(repo, "remote storage")
    assert "config.local" not in run(repo, "git", "ls-files", ".dvc").stdout
    return repo


def clone(origin, dest):
    run(Path(dest).parent, "git", "clone", "-q", str(origin), str(dest))
    set_credentials(dest)
    return Path(dest)


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def files_under(root, sub):
    base = Path(root) / sub
    return sorted(str(p.relative_to(root)) for p in base.rglob("*") if p.is_file()) \
        if base.exists() else []


def retrain_seeds(repo):
    return yaml.safe_load((Path(repo) / "params.yaml").read_text())["retrain"]["seeds"]


def object_key(repo, relpath):
    """The remote key of a file that DVC tracks (content-addressed by md5)."""
    md5 = hashlib.md5((Path(repo) / relpath).read_bytes()).hexdigest()
    return f"cache/files/md5/{md5[:2]}/{md5[2:]}"


@pytest.fixture(scope="module")
def pulled(origin, tmp_path_factory):
    """A fresh clone after the README's `dvc pull train_original train_retrained` and a
    `dvc repro` of the training stages (which regenerates the cheap data stages)."""
    repo = clone(origin, tmp_path_factory.mktemp("pulled") / "clone")
    assert not (repo / "models").exists()
    dvc(repo, "pull", "train_original", "train_retrained")
    after_pull = files_under(repo, "models") + files_under(repo, "data")
    hashes = {f: sha256(repo / f) for f in after_pull}
    repro = dvc(repo, "repro", "train_original", "train_retrained").stdout
    return type("Pulled", (), {"repo": repo, "after_pull": after_pull, "hashes": hashes,
                               "repro": repro})


def test_push_sends_checkpoints_and_run_cache(origin, s3):
    keys = {o["Key"] for page in s3.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])}
    assert object_key(origin, CHECKPOINT) in keys
    for seed in retrain_seeds(origin):
        assert object_key(origin, f"models/retrained/seed_{seed}/model.pt") in keys
    assert any(k.startswith("cache/runs/") for k in keys), "run-cache was not pushed"
    # a second push has nothing left to send
    assert "Everything is up to date" in dvc(origin, "push").stdout


def test_pull_checkpoints_brings_back_identical_files_and_repro_trains_nothing(origin, pulled):
    files = ("logits.json", "logits.npz", "model.pt")
    expected = [f"models/original/seed_0/{f}" for f in files] + [
        f"models/retrained/seed_{k}/{f}" for k in retrain_seeds(origin) for f in files]
    # only the training stages' outputs: no unlearned runs, no data
    assert pulled.after_pull == sorted(expected)
    for path, digest in pulled.hashes.items():
        assert digest == sha256(origin / path), path

    # generate/prepare rerun (their outputs were not pulled) and, being deterministic,
    # give the same prepared data: every training stage is skipped
    ran = ran_stages(pulled.repro)
    assert ran <= {"generate", "prepare"}, ran
    assert "Stage 'train_original@0' didn't change, skipping" in pulled.repro
    for k in retrain_seeds(origin):
        assert f"Stage 'train_retrained@{k}' didn't change, skipping" in pulled.repro
    for path, digest in pulled.hashes.items():   # and the checkpoints are untouched
        assert sha256(pulled.repo / path) == digest, path

    # what is left for a full `dvc repro` is downstream of the missing unlearned runs only
    status = yaml.safe_load(dvc(pulled.repo, "status", "--json").stdout) or {}
    assert status, "expected the unlearning stages to be out of date"
    assert all(s.startswith(("unlearn@", "score", "report")) for s in status), sorted(status)


def test_single_seed_then_full_pull_restores_everything_and_repro_runs_nothing(origin, tmp_path):
    repo = clone(origin, tmp_path / "clone")
    seed = retrain_seeds(origin)[-1]          # one foreach item on its own
    dvc(repo, "pull", f"train_retrained@{seed}")
    assert files_under(repo, "models") == [f"models/retrained/seed_{seed}/{f}"
                                           for f in ("logits.json", "logits.npz", "model.pt")]
    dvc(repo, "pull")
    assert files_under(repo, "models") == files_under(origin, "models")
    assert files_under(repo, "data") == files_under(origin, "data")
    for path in files_under(origin, "models"):
        assert sha256(repo / path) == sha256(origin / path), path
    assert "up to date" in dvc(repo, "status").stdout
    assert ran_stages(dvc(repo, "repro").stdout) == set()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_remote_fails_naming_the_endpoint_and_writes_nothing(origin, tmp_path,
                                                                         monkeypatch):
    repo = clone(origin, tmp_path / "clone")
    port = closed_port()
    dvc(repo, "remote", "modify", "--local", "storage", "endpointurl", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")   # fail at once instead of ~30 s of retries
    proc = dvc(repo, "pull", "train_original", "train_retrained", check=False)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert f"127.0.0.1:{port}" in message and BUCKET in message, message
    assert "failed to pull data from the cloud" in message, message
    assert "Traceback" not in message
    assert not (repo / "models").exists() and not (repo / "data").exists()


def test_object_missing_on_remote_leaves_no_partial_checkpoint(origin, s3, tmp_path):
    key = object_key(origin, CHECKPOINT)
    s3.client.delete_object(Bucket=BUCKET, Key=key)
    try:
        repo = clone(origin, tmp_path / "clone")
        proc = dvc(repo, "pull", "train_original", check=False)
        assert proc.returncode != 0
        message = proc.stdout + proc.stderr
        # names the missing object (DVC sometimes adds an "unexpected error" line about
        # its own download temporary, so only the first line is checked)
        md5 = key.split("/")[-2] + key.split("/")[-1]
        assert f"failed to transfer '{md5}'" in message, message
        assert "does not exist" in message, message
        # logits.pt was downloadable, yet models/original/seed_0 is not half restored
        assert not (repo / "models").exists()
    finally:
        s3.client.upload_file(str(origin / CHECKPOINT), BUCKET, key)


def checkpoint_variants(good):
    """Bytes of bad replacements for models/original/seed_0/model.pt, by kind."""
    import io

    import torch

    from unlearn.training.model import build_model, save_checkpoint

    def saved(obj):
        buf = io.BytesIO()
        torch.save(obj, buf)
        return buf.getvalue()

    ckpt = torch.load(good, weights_only=True)
    wrong_arch = dict(ckpt, arch="resnet50")
    few = ckpt["num_classes"] - 3
    with tempfile.TemporaryDirectory() as tmp:   # a sound checkpoint of another task
        other = Path(tmp) / "model.pt"
        save_checkpoint(build_model(few), other, arch=ckpt["arch"], num_classes=few)
        few_classes = other.read_bytes()
    return {
        "truncated": (Path(good).read_bytes()[:4096], "corrupt or unreadable checkpoint"),
        "wrong_architecture": (saved(wrong_arch), "architecture 'resnet50'"),
        "wrong_class_count": (few_classes, f"{few} classes"),
    }


@pytest.mark.parametrize("kind", ["truncated", "wrong_architecture", "wrong_class_count"])
def test_bad_pulled_checkpoint_stops_unlearning_with_one_line(pulled, kind):
    repo = pulled.repo
    path = repo / CHECKPOINT
    timing = repo / "metrics/timing/finetune.json"
    timing_before = timing.read_bytes() if timing.exists() else None
    data, fragment = checkpoint_variants(path)[kind]
    path.unlink()               # never write through a link into the DVC cache
    path.write_bytes(data)
    try:
        proc = run(repo, "python", "-m", "stages.unlearn", "finetune", check=False)
        err = proc.stderr.strip()
        assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"error: {CHECKPOINT}:"), err
        assert fragment in err, err
        unlearned = repo / "models/unlearned"
        assert not (unlearned / "finetune").exists()
        assert not (unlearned.exists() and list(unlearned.iterdir())), list(unlearned.iterdir())
        assert (timing.read_bytes() if timing.exists() else None) == timing_before
    finally:
        # the README's repair: DVC sees the file modified and restores the cached copy
        status = dvc(repo, "status", "train_original").stdout
        dvc(repo, "checkout", "--force", "models/original/seed_0")
    assert "modified:" in status and "models/original/seed_0" in status, status
    assert sha256(path) == pulled.hashes[CHECKPOINT]
