"""The public scoring API (`import unlearn.scoring`) works from outside the repository, as
installed by `make venv` (editable), without importing torch; docs/scoring.md's example runs
as written, and its list of public names is unlearn.scoring.API's."""
import re
import subprocess
import sys
from pathlib import Path

import unlearn.scoring

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs/scoring.md").read_text()
SECTION = DOC[DOC.index("## Scoring your own logits"):]


def test_the_docs_example_runs_outside_the_repository_without_torch(tmp_path):
    example = re.search(r"```python\n(.*?)```", SECTION, re.S).group(1)
    script = tmp_path / "score_mine.py"
    script.write_text(example + "\nimport sys\nassert 'torch' not in sys.modules, 'torch imported'\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}   # no PYTHONPATH: the install
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"F official \d\.\d{3}, final \d\.\d{3}, F local \d\.\d{3}, "
                        r"KLoM \d+\.\d{2}\n", proc.stdout), proc.stdout


def test_the_docs_list_the_public_names():
    listed = re.search(r"<!-- scoring-api:begin -->(.*?)<!-- scoring-api:end -->", DOC).group(1)
    assert re.findall(r"`(\w+)`", listed) == sorted(unlearn.scoring.API)


def test_every_public_name_resolves_and_an_unknown_one_is_an_attribute_error():
    for name in unlearn.scoring.API:
        assert callable(getattr(unlearn.scoring, name)), name
    try:
        unlearn.scoring.no_such_scorer
    except AttributeError as e:
        assert "no_such_scorer" in str(e)
    else:
        raise AssertionError("unknown name resolved")
