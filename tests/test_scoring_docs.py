"""docs/scoring.md's defaults table says what params.yaml runs, key by key."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `(score\.[\w.]+)` \| ([^|]+) \|", re.M)


def test_the_defaults_table_matches_params():
    text = (ROOT / "docs/scoring.md").read_text()
    table = text.split("## Defaults", 1)[1].split("\n## ", 1)[0]
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    rows = dict(ROW.findall(table))
    leaves = {}

    def walk(node, prefix):
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}.{k}")
            else:
                leaves[f"{prefix}.{k}"] = v
    walk(params["score"], "score")
    assert set(rows) == set(leaves)          # every key of the section, no other
    for key, cell in rows.items():
        shown = yaml.safe_load(cell.strip().strip("`"))
        want = leaves[key]
        if isinstance(want, float):
            assert float(shown) == want, key
        else:
            assert shown == want, key
