"""SDSTrack config keys: OSTrack's schema (the official config module is a copy of it) with the official
differences: no backbone pre-training file by default, no validation data, and TRAIN.FIX_BN /
SAVE_EPOCH_INTERVAL / SAVE_LAST_N_EPOCH. The auxiliary modality is normalised with the ImageNet statistics, as
the official 6-entry mean/std does."""
from __future__ import annotations

from lib.config.defaults import IMAGENET_MEAN, IMAGENET_STD
from lib.config.node import CfgNode
from lib.families.ostrack.config import add_config as add_ostrack_config


def add_config(cfg: CfgNode, script: str) -> None:
    add_ostrack_config(cfg, script)
    cfg.MODEL.PRETRAIN_FILE = ""
    cfg.DATA.AUX = CfgNode({"MODALITY": "dte", "MEAN": list(IMAGENET_MEAN), "STD": list(IMAGENET_STD)})
    cfg.DATA.VAL.DATASETS_NAME = []
    cfg.DATA.VAL.DATASETS_RATIO = []
    # Box-head BatchNorms stay in eval mode while training (their statistics are the OSTrack ones).
    cfg.TRAIN.FIX_BN = True
    # Read by the official trainer only; kept so the official files load.
    cfg.TRAIN.SAVE_EPOCH_INTERVAL = 1
    cfg.TRAIN.SAVE_LAST_N_EPOCH = 1
    # The official initialisation is a whole OSTrack checkpoint loaded non-strictly: it provides 152 of the 348
    # non-head entries (no adapters, no auxiliary patch embedding).
    cfg.TRAIN.INIT_MIN_MATCH = 0.4
    # none, rgb or aux: blank that stream's input channels while tracking (modality-absence experiment).
    cfg.TEST.MISSING_MODALITY = "none"
    # The fusion adapters of 8 blocks never run (as in the official model).
    cfg.TRAIN.FIND_UNUSED_PARAMETERS = True
