"""The methods' reference is generated from their config classes and cannot drift.

docs/methods.md's defaults tables and README.md's methods table are written by
`python -m tools.method_docs` from the config classes; a default changed in a module, or a
method added, fails here until the tool has been run.
"""
import dataclasses

from tools import method_docs
from unlearn.core.checks import positive
from unlearn.core.config import Config, config, inherit, param
from unlearn.methods import get_method, method_names
from unlearn.training.optim import EpochConfig

ROOT = method_docs.ROOT


def test_the_committed_reference_is_what_the_configs_generate():
    stale = [str(path) for path, text in method_docs.rendered().items()
             if (ROOT / path).read_text() != text]
    assert stale == [], "run `python -m tools.method_docs`"


def test_every_key_and_default_of_every_method_is_in_its_table():
    docs = (ROOT / "docs/methods.md").read_text()
    for name in method_names():
        section = docs.split(f"### {name} defaults\n", 1)[1].split("\n### ", 1)[0]
        for key, _, default, _ in get_method(name).config.describe():
            assert f"| `{key}` |" in section and f"| {method_docs.value(default)} |" in section


def test_a_changed_default_changes_the_table():
    @config
    class Before(EpochConfig):
        lam: float = param(0.1, "a weight", positive)

    @config
    class After(Before):
        lam: float = inherit(0.25)

    before = dict((k, (d, n)) for k, _, d, n in Before.describe())
    after = dict((k, (d, n)) for k, _, d, n in After.describe())
    assert before["lam"] == (0.1, "a weight") and after["lam"] == (0.25, "a weight")
    assert [f.name for f in dataclasses.fields(After)] == [f.name for f in dataclasses.fields(Before)]


def test_every_default_lives_once_in_the_source():
    """A method's section in params.yaml holds overrides only: none repeats a default."""
    import yaml
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    repeated = [f"unlearn.{m}.{k}" for m, section in params["unlearn"].items()
                for k, v in (section or {}).items()
                if get_method(m).config.defaults().get(k) == v]
    assert repeated == []


def test_values_are_written_as_params_yaml_would():
    assert [method_docs.value(v) for v in (1e-4, 0.5, True, None, [3, 5, 9], "adam", 64)] == [
        "0.0001", "0.5", "true", "null", "[3, 5, 9]", "adam", "64"]


def test_no_params_method_says_so():
    @config
    class Empty(Config):
        pass
    assert Empty.describe() == []
    assert "No params." in "\n".join(method_docs.method_section("original"))
