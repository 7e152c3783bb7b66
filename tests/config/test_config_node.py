"""Strict typed config: unknown keys, wrong types, _BASE_ chains, overrides, dump/reload, freeze."""
import pytest

from lib.config.defaults import get_default_config
from lib.config.node import CfgNode, ConfigError


def write(path, text):
    path.write_text(text)
    return str(path)


def test_unknown_key_names_path_file_and_line(tmp_path):
    cfg = get_default_config()
    f = write(tmp_path / "a.yaml", "TRAIN:\n  LR: 0.1\n  LRR: 0.2\n")
    with pytest.raises(ConfigError) as e:
        cfg.merge_from_file(f)
    msg = str(e.value)
    assert "TRAIN.LRR" in msg and f in msg and "line 3" in msg and "LR" in msg


def test_wrong_type_names_key_and_expected_type(tmp_path):
    cfg = get_default_config()
    f = write(tmp_path / "a.yaml", "TRAIN:\n  EPOCH: ten\n")
    with pytest.raises(ConfigError, match=r"line 2.*TRAIN\.EPOCH.*expected int, got str"):
        cfg.merge_from_file(f)


def test_section_replaced_by_scalar_is_rejected(tmp_path):
    cfg = get_default_config()
    with pytest.raises(ConfigError, match="'DATA.SEARCH' is a section"):
        cfg.merge_from_file(write(tmp_path / "a.yaml", "DATA:\n  SEARCH: 3\n"))


def test_int_promoted_to_float_and_exponent_floats_parse(tmp_path):
    cfg = get_default_config()
    cfg.merge_from_file(write(tmp_path / "a.yaml", "TRAIN:\n  LR: 1e-4\n  GIOU_WEIGHT: 2\n"))
    assert cfg.TRAIN.LR == pytest.approx(1e-4) and isinstance(cfg.TRAIN.GIOU_WEIGHT, float)


def test_bool_and_int_do_not_mix(tmp_path):
    cfg = get_default_config()
    with pytest.raises(ConfigError, match="expected bool"):
        cfg.merge_from_dict({"TRAIN": {"AMP": 1}})
    with pytest.raises(ConfigError, match="expected int"):
        cfg.merge_from_dict({"TRAIN": {"EPOCH": True}})


def test_declared_union_type_accepts_int_and_list():
    cfg = get_default_config()
    cfg.merge_from_dict({"DATA": {"MAX_SAMPLE_INTERVAL": [200]}})
    assert cfg.DATA.MAX_SAMPLE_INTERVAL == [200]
    cfg.merge_from_dict({"DATA": {"MAX_SAMPLE_INTERVAL": 100}})
    assert cfg.DATA.MAX_SAMPLE_INTERVAL == 100
    with pytest.raises(ConfigError):
        cfg.merge_from_dict({"DATA": {"MAX_SAMPLE_INTERVAL": "far"}})


def test_base_chain_applies_bases_first(tmp_path):
    write(tmp_path / "root.yaml", "TRAIN:\n  LR: 0.5\n  EPOCH: 7\n")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "mid.yaml", "_BASE_: ../root.yaml\nTRAIN:\n  EPOCH: 8\n")
    leaf = write(tmp_path / "sub" / "leaf.yaml", "_BASE_: mid.yaml\nTRAIN:\n  BATCH_SIZE: 3\n")
    cfg = get_default_config()
    cfg.merge_from_file(leaf)
    assert (cfg.TRAIN.LR, cfg.TRAIN.EPOCH, cfg.TRAIN.BATCH_SIZE) == (0.5, 8, 3)


def test_base_cycle_is_reported(tmp_path):
    write(tmp_path / "a.yaml", "_BASE_: b.yaml\n")
    write(tmp_path / "b.yaml", "_BASE_: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        get_default_config().merge_from_file(str(tmp_path / "a.yaml"))


def test_command_line_overrides_go_through_the_same_checks():
    cfg = get_default_config()
    cfg.merge_from_list(["TRAIN.LR", "0.003", "DATA.TRAIN.DATASETS_NAME", "[GOT10K_train_full]"])
    assert cfg.TRAIN.LR == 0.003 and cfg.DATA.TRAIN.DATASETS_NAME == ["GOT10K_train_full"]
    with pytest.raises(ConfigError, match="TRAIN.NOPE"):
        cfg.merge_from_list(["TRAIN.NOPE", "1"])
    with pytest.raises(ConfigError, match="expected int"):
        cfg.merge_from_list(["TRAIN.EPOCH", "1.5"])
    with pytest.raises(ConfigError, match="pairs"):
        cfg.merge_from_list(["TRAIN.EPOCH"])


def test_dump_reload_round_trip(tmp_path):
    cfg = get_default_config()
    cfg.merge_from_dict({"TRAIN": {"LR": 0.25, "FREEZE": ["backbone"]}})
    f = write(tmp_path / "dump.yaml", cfg.dump())
    again = get_default_config()
    again.merge_from_file(f)
    assert again.to_dict() == cfg.to_dict()


def test_freeze_blocks_writes_and_clone_unfreezes():
    cfg = get_default_config().freeze()
    with pytest.raises(AttributeError, match="frozen"):
        cfg.TRAIN.LR = 1.0
    with pytest.raises(ConfigError, match="frozen"):
        cfg.merge_from_dict({"TRAIN": {"LR": 1.0}})
    copy = cfg.clone()
    copy.TRAIN.LR = 1.0
    assert cfg.TRAIN.LR != 1.0


def test_free_mapping_accepts_new_keys():
    cfg = CfgNode({"TEST": CfgNode({"UPDATE_INTERVALS": CfgNode({"DEFAULT": [200]}, new_allowed=True)})})
    cfg.merge_from_dict({"TEST": {"UPDATE_INTERVALS": {"LASOT": [450], "VOT20": [10]}}})
    assert cfg.TEST.UPDATE_INTERVALS.LASOT == [450] and cfg.TEST.UPDATE_INTERVALS.DEFAULT == [200]


def test_missing_attribute_lists_known_keys():
    with pytest.raises(AttributeError, match="known: .*EPOCH"):
        get_default_config().TRAIN.EPOHC


def test_non_mapping_yaml_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        get_default_config().merge_from_file(write(tmp_path / "a.yaml", "- 1\n- 2\n"))


def test_config_label_is_the_name_or_the_yaml_stem():
    from lib.config import config_label

    assert config_label("baseline") == "baseline"
    assert config_label("seqtrack_b256.v2") == "seqtrack_b256.v2"  # a name, not a file: kept whole
    assert config_label("/some/where/my_run.yaml") == "my_run"
