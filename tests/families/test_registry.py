"""Family registry: discovery, script lookup, unknown names, duplicates, family isolation."""
import pathlib
import tokenize

import pytest

from lib import families
from lib.families import Family, TinyRun, UnknownNameError, load_config

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_unknown_script_lists_valid_ones(toy_family):
    with pytest.raises(UnknownNameError) as e:
        families.get_family("toyy")
    assert "toyy" in str(e.value) and "toy" in str(e.value).split("valid scripts:")[1]


def test_script_and_tracker_lookup(toy_family):
    assert families.get_family("toy_stage2") is toy_family
    assert families.get_tracker_family("toy") == (toy_family, "toy")
    assert "toy" in families.list_scripts()


def test_duplicate_script_names_are_rejected(toy_family):
    clash = Family(name="clash", scripts={"toy": "X"}, trackers={}, add_config=lambda c, s: None,
                   build_model=lambda c, t: None)
    with pytest.raises(ValueError, match="'toy' is declared by both"):
        families.register(clash)


def test_a_declaration_is_checked_when_made():
    baseline = Family(name="b", scripts={}, trackers={"b": ""}, build_tracker=lambda params: None)
    assert baseline.build_model is None and baseline.add_config is None
    with pytest.raises(TypeError, match="declares training scripts but no add_config, build_model"):
        Family(name="n", scripts={"n": "N"}, trackers={})
    with pytest.raises(TypeError, match=r"unknown script\(s\) \['m'\]"):
        Family(name="n", scripts={"n": "N"}, trackers={}, add_config=lambda c, s: None,
               build_model=lambda c, t: None, tiny={"m": TinyRun("tiny")})
    with pytest.raises(TypeError, match="a tracker names a script"):
        Family(name="n", scripts={"n": "N"}, trackers={"t": "other"}, add_config=lambda c, s: None,
               build_model=lambda c, t: None)


def test_config_of_registered_family_loads_strictly(toy_family, tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("MODEL:\n  HIDDEN: 4\nTRAIN:\n  EPOCH: 2\n")
    cfg = load_config("toy", str(f))
    assert cfg.MODEL.HIDDEN == 4 and cfg.TRAIN.EPOCH == 2 and cfg.is_frozen
    f.write_text("MODEL:\n  HIDEN: 4\n")
    with pytest.raises(ValueError, match="MODEL.HIDEN"):
        load_config("toy", str(f))


def test_every_discovered_family_declares_itself():
    for name, family in families.discover().items():
        assert family.name == name
        assert family.scripts or family.trackers


GENERIC_DIRS = ["lib/train", "lib/test", "lib/models", "lib/utils", "lib/config", "tracking"]


def code_names(path: pathlib.Path) -> list[tuple[int, str]]:
    """Identifiers in a file's code (comments, docstrings and strings such as config values excluded)."""
    with open(path, "rb") as f:
        return [(tok.start[0], tok.string) for tok in tokenize.tokenize(f.readline) if tok.type == tokenize.NAME]


def test_generic_code_never_names_a_family():
    """No identifier in generic code (imports, classes, branches) refers to a family (DESIGN rule 1)."""
    # Baselines without training scripts (opencv, hold) are named after libraries and words, not trackers.
    names = [n for n, f in families.discover().items() if f.scripts]
    if not names:
        pytest.skip("no trainable family is registered yet")
    offenders = []
    for folder in GENERIC_DIRS:
        for path in (REPO / folder).rglob("*.py"):
            for lineno, name in code_names(path):
                if any(family in name.lower() for family in names):
                    offenders.append(f"{path.relative_to(REPO)}:{lineno}: {name}")
    assert not offenders, "family names in generic code:\n" + "\n".join(offenders)
