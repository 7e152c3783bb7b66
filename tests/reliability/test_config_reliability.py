"""Items 2, 4, 7 of issue 24: duplicate YAML keys, values that cannot train, unreadable files and overrides."""
import pytest

from lib.config import ConfigError
from lib.families import load_config
from lib.config.node import load_yaml


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_a_duplicated_section_is_an_error_with_both_lines(tmp_path):
    path = write(tmp_path, "dup.yaml", b"TRAIN:\n  EPOCH: 5\nTEST:\n  EPOCH: 5\nTRAIN:\n  LR: 0.001\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml: key 'TRAIN' appears twice \(lines 1 and 5\)"):
        load_yaml(path)


def test_a_duplicated_nested_key_is_an_error_and_distinct_sections_are_not(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'EPOCH' appears twice \(lines 2 and 4\)"):
        load_yaml(write(tmp_path, "dup.yaml", b"TRAIN:\n  EPOCH: 5\n  LR: 0.1\n  EPOCH: 7\n"))
    data, _ = load_yaml(write(tmp_path, "ok.yaml", b"TRAIN:\n  EPOCH: 5\nTEST:\n  EPOCH: 7\n"))
    assert data == {"TRAIN": {"EPOCH": 5}, "TEST": {"EPOCH": 7}}


@pytest.mark.parametrize("opts, key", [
    (["TRAIN.EPOCH", "0"], "TRAIN.EPOCH"), (["TRAIN.EPOCH", "-1"], "TRAIN.EPOCH"),
    (["TRAIN.BATCH_SIZE", "0"], "TRAIN.BATCH_SIZE"), (["TRAIN.BATCH_SIZE", "-4"], "TRAIN.BATCH_SIZE"),
    (["TRAIN.LR", ".nan"], "TRAIN.LR"), (["TRAIN.LR", ".inf"], "TRAIN.LR"), (["TRAIN.LR", "-0.1"], "TRAIN.LR"),
])
def test_values_that_cannot_train_are_rejected_at_load_naming_the_key(opts, key):
    with pytest.raises(ConfigError, match=f"'{key}' must be a finite number >= "):
        load_config("stark_s", "tiny", opts)


def test_values_that_can_train_still_load_and_the_check_names_the_file_line(tmp_path):
    cfg = load_config("stark_s", "tiny", ["TRAIN.EPOCH", "1", "TRAIN.BATCH_SIZE", "1", "TRAIN.LR", "0"])
    assert (cfg.TRAIN.EPOCH, cfg.TRAIN.BATCH_SIZE, cfg.TRAIN.LR) == (1, 1, 0.0)
    path = write(tmp_path, "zero.yaml", b"TRAIN:\n  LR: 0.1\n  EPOCH: 0\n")
    with pytest.raises(ConfigError, match=r"zero\.yaml, line 3: 'TRAIN.EPOCH' must be"):
        load_config("stark_s", path)


def test_non_utf8_yaml_is_a_config_error_naming_the_file(tmp_path):
    path = write(tmp_path, "latin1.yaml", "TRAIN:\n  # époque\n  EPOCH: 5\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml: not UTF-8 text .*save the file as UTF-8"):
        load_yaml(path)


def test_a_yaml_syntax_error_in_opts_names_the_key():
    with pytest.raises(ConfigError, match=r"override DATA\.MEAN: value '\[0\.4, 0\.4' is not valid YAML"):
        load_config("stark_s", "tiny", ["DATA.MEAN", "[0.4, 0.4"])


def test_a_yaml_syntax_error_in_a_file_is_one_line_with_its_position(tmp_path):
    path = write(tmp_path, "bad.yaml", b"TRAIN:\n  EPOCH: 5\n    LR: 0.1\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert "\n" not in str(info.value) and "bad.yaml: line 3" in str(info.value)


def test_a_config_with_value_checks_pickles_for_test_workers():
    import pickle

    cfg = pickle.loads(pickle.dumps(load_config("stark_s", "tiny")))
    assert cfg.TRAIN.EPOCH == 10 and cfg.is_frozen
    fresh = cfg.clone()
    with pytest.raises(ConfigError, match="'TRAIN.EPOCH' must be"):
        fresh.merge_from_list(["TRAIN.EPOCH", "0"])
