"""tools/uv_args.py: `make venv` hands uv the package sources pip is configured with (uv
reads no pip configuration), so both install the same wheels."""
import subprocess
import sys

from tools.uv_args import pip_config, uv_args


def test_pip_sources_become_uv_options_the_environment_winning():
    config = {"global": {"find-links": "/opt/wheels",
                         "extra-index-url": "file:///a/simple file:///b/simple"},
              ":env:": {"find-links": "/env/wheels"}}
    assert uv_args(config) == [
        "--extra-index-url", "file:///a/simple", "--extra-index-url", "file:///b/simple",
        "--find-links", "/env/wheels", "--index-strategy", "unsafe-best-match"]


def test_no_pip_configuration_leaves_uv_its_defaults():
    assert uv_args({}) == ["--index-strategy", "unsafe-best-match"]


def test_this_pip_s_configuration_is_read(monkeypatch):
    monkeypatch.setenv("PIP_FIND_LINKS", "/somewhere/wheels")
    assert pip_config(sys.executable)[":env:"]["find-links"] == "/somewhere/wheels"
    out = subprocess.run([sys.executable, "tools/uv_args.py"], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[out.index("--find-links") + 1] == "/somewhere/wheels"
