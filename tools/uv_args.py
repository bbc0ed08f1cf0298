"""pip's package sources as uv arguments, so that `make venv` with uv installs the very wheels
pip would (uv reads no pip configuration).

Prints `--index-url`, `--extra-index-url` and `--find-links` options for what pip is
configured with (its config files and PIP_* environment variables, as `pip config list`
shows them; the environment wins, as in pip), plus `--index-strategy unsafe-best-match`:
pip picks the best version across all its indexes, while uv by default stops at the first
index that has a package at all. Standard library only: it runs before anything is installed.

    uv pip install $(python tools/uv_args.py) -r requirements.txt -c constraints.txt
"""
import subprocess
import sys

OPTIONS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url",
           "find-links": "--find-links"}
# pip's configuration scopes, lowest precedence first (`pip config list` names them so)
SCOPES = ("global", "user", "site", ":env:")


def pip_config(python):
    """{scope: {key: value}} from `pip config list` (empty when pip has no configuration)."""
    out = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True,
                         text=True).stdout
    config = {}
    for line in out.splitlines():
        name, sep, value = line.partition("=")
        scope, _, key = name.rpartition(".")
        if sep and key in OPTIONS:
            config.setdefault(scope, {})[key] = value.strip().strip("'\"")
    return config


def uv_args(config):
    """The uv options for a parsed pip configuration (a later scope overrides an earlier)."""
    merged = {}
    for scope in sorted(config, key=lambda s: SCOPES.index(s) if s in SCOPES else 0):
        merged.update(config[scope])
    args = []
    for key, option in OPTIONS.items():
        for value in merged.get(key, "").split():
            args += [option, value]
    return args + ["--index-strategy", "unsafe-best-match"]


if __name__ == "__main__":
    print(" ".join(uv_args(pip_config(sys.argv[1] if len(sys.argv) > 1 else sys.executable))))
