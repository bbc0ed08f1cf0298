"""docs/compute.md's defaults table says what the code and params.yaml run: every key of
the `compute` section and the GPU keys of `executor`, with their values."""
import re
from pathlib import Path

import yaml

from unlearn.core import compute

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `([\w.]+)` \| `([^`]+)` \|", re.M)


def table():
    text = (ROOT / "docs/compute.md").read_text()
    section = text.split("## Defaults", 1)[1].split("\n## ", 1)[0]
    return dict(ROW.findall(section))


def shown(value):
    return yaml.safe_dump(value).strip().removesuffix("...").strip()


def test_the_defaults_table_matches_params_and_code():
    rows = table()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    expected = {"device": params["device"]}
    expected.update({f"compute.{k}": v for k, v in params["compute"].items()})
    expected.update({f"executor.{k}": params["executor"][k]
                     for k in ("workers", "workers_per_gpu", "num_gpus")})
    assert {k: rows.get(k) for k in expected} == {k: shown(v) for k, v in expected.items()}
    # params.yaml runs the code's defaults, so the table is the code's too
    assert {k: params["compute"][k] for k in compute.DEFAULTS} == compute.DEFAULTS
