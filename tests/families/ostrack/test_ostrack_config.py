"""OSTrack experiment files load strictly with the official values; schema defaults are the official ones."""
import pytest

from lib.config import ConfigError
from lib.families import get_config_schema, load_config

OFFICIAL = ["vitb_256_mae_ce_32x4_ep300", "vitb_384_mae_ce_32x4_ep300", "vitb_256_mae_ce_32x4_got10k_ep100",
            "vitb_384_mae_ce_32x4_got10k_ep100"]


@pytest.mark.parametrize("config", OFFICIAL + ["tiny", "quickstart"])
def test_experiment_files_load_and_freeze(config):
    cfg = load_config("ostrack", config)
    assert cfg.is_frozen
    assert cfg.MODEL.HEAD.TYPE == "CENTER"


@pytest.mark.parametrize("config, sizes, search, schedule, epochs, train_sets", [
    ("vitb_256_mae_ce_32x4_ep300", (128, 256), (4.0, 3.0, 0.25), (20, 80), (300, 240),
     ["LASOT", "GOT10K_vottrain", "COCO17", "TRACKINGNET"]),
    # The official 384 file sets no CE schedule: the defaults 20 / 80 apply.
    ("vitb_384_mae_ce_32x4_ep300", (192, 384), (5.0, 4.5, 0.5), (20, 80), (300, 240),
     ["LASOT", "GOT10K_vottrain", "COCO17", "TRACKINGNET"]),
    ("vitb_256_mae_ce_32x4_got10k_ep100", (128, 256), (4.0, 3.0, 0.25), (20, 50), (100, 80), ["GOT10K_train_full"]),
    ("vitb_384_mae_ce_32x4_got10k_ep100", (192, 384), (5.0, 4.5, 0.5), (20, 50), (100, 80), ["GOT10K_train_full"]),
])
def test_official_values(config, sizes, search, schedule, epochs, train_sets):
    cfg = load_config("ostrack", config)
    assert (cfg.DATA.TEMPLATE.SIZE, cfg.DATA.SEARCH.SIZE) == sizes == (cfg.TEST.TEMPLATE_SIZE, cfg.TEST.SEARCH_SIZE)
    assert (cfg.DATA.SEARCH.FACTOR, cfg.DATA.SEARCH.CENTER_JITTER, cfg.DATA.SEARCH.SCALE_JITTER) == search
    assert cfg.TEST.SEARCH_FACTOR == search[0] and cfg.TEST.TEMPLATE_FACTOR == cfg.DATA.TEMPLATE.FACTOR == 2.0
    assert (cfg.TRAIN.CE_START_EPOCH, cfg.TRAIN.CE_WARM_EPOCH) == schedule
    assert (cfg.TRAIN.EPOCH, cfg.TRAIN.LR_DROP_EPOCH) == epochs and cfg.TEST.EPOCH == epochs[0]
    assert cfg.DATA.TRAIN.DATASETS_NAME == train_sets
    backbone = cfg.MODEL.BACKBONE
    assert backbone.TYPE == "vit_base_patch16_224_ce" and backbone.STRIDE == 16
    assert backbone.CE_LOC == [3, 6, 9] and backbone.CE_KEEP_RATIO == [0.7, 0.7, 0.7]
    assert backbone.CE_TEMPLATE_RANGE == "CTR_POINT"
    assert cfg.MODEL.PRETRAIN_FILE == "mae_pretrain_vit_base.pth"
    train = cfg.TRAIN
    assert (train.LR, train.BACKBONE_MULTIPLIER, train.WEIGHT_DECAY, train.BATCH_SIZE) == (4e-4, 0.1, 1e-4, 32)
    assert (train.GIOU_WEIGHT, train.L1_WEIGHT, train.GRAD_CLIP_NORM, train.DROP_PATH_RATE) == (2.0, 5.0, 0.1, 0.1)


def test_schema_defaults_are_the_official_ones():
    cfg = get_config_schema("ostrack")
    backbone = cfg.MODEL.BACKBONE
    assert backbone.TYPE == "vit_base_patch16_224" and backbone.CE_LOC == [] and backbone.CE_TEMPLATE_RANGE == "ALL"
    assert (backbone.CAT_MODE, backbone.ADD_CLS_TOKEN, backbone.SEP_SEG) == ("direct", False, False)
    assert cfg.MODEL.HEAD.NUM_CHANNELS == 256 and cfg.MODEL.PRETRAIN_FILE == "mae_pretrain_vit_base.pth"
    assert cfg.MODEL.HEAD.SCORE_PRIOR == 0.0  # the official head initialisation
    assert (cfg.TRAIN.CE_START_EPOCH, cfg.TRAIN.CE_WARM_EPOCH, cfg.TRAIN.DROP_PATH_RATE) == (20, 80, 0.1)
    assert (cfg.TRAIN.LR, cfg.TRAIN.EPOCH, cfg.TRAIN.LR_DROP_EPOCH, cfg.TRAIN.BATCH_SIZE) == (1e-4, 500, 400, 16)
    assert cfg.DATA.TRAIN.DATASETS_NAME == ["LASOT", "GOT10K_vottrain"]
    assert (cfg.DATA.SEARCH.SIZE, cfg.DATA.SEARCH.FACTOR, cfg.TEST.SEARCH_SIZE) == (320, 5.0, 320)


def test_unknown_and_mistyped_keys_fail_with_their_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("MODEL:\n  BACKBONE:\n    CE_LOCS: [3]\n")
    with pytest.raises(ConfigError, match="MODEL.BACKBONE.CE_LOCS"):
        load_config("ostrack", str(bad))
    bad.write_text("TRAIN:\n  CE_START_EPOCH: soon\n")
    with pytest.raises(ConfigError, match="TRAIN.CE_START_EPOCH"):
        load_config("ostrack", str(bad))


def test_tiny_config_is_a_short_diff_with_pretraining_off():
    cfg = load_config("ostrack", "tiny")
    assert cfg.MODEL.PRETRAIN_FILE == "" and cfg.MODEL.BACKBONE.TYPE == "vit_test_patch16_ce"
    assert (cfg.DATA.TEMPLATE.SIZE, cfg.DATA.SEARCH.SIZE) == (64, 128)
    assert cfg.MODEL.BACKBONE.CE_TEMPLATE_RANGE == "CTR_POINT"
