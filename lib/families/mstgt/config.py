"""MSTGT config keys: the official `lib/config/mstgt/config.py` schema (capf-2011/MSTGT) with its defaults, on top of
the shared schema, so the official experiment files load unmodified.

DA.* drive the search-area augmentation (border placement with probability border_prob, factor drawn in
sfactor) and the mixed sampling (imix*); DATA.DYNAMIC / TEST.DYNAMIC_* only size the stored, unused `pos_embed_d`.
"""
from __future__ import annotations

from lib.config.node import CfgNode


def add_config(cfg: CfgNode, script: str) -> None:
    cfg.DA = CfgNode({"border_prob": 0.0, "sfactor": [4.0, 4.0], "imix": False, "imix_occrate": 0.5,
                      "imix_reverse_prob": 0.3, "imix_epoch": 40, "imix_interval": 1, "mix_type": 1,
                      "norm_type": "channel", "update_bbox": False})
    cfg.MODEL.PRETRAIN_FILE = "mae_hivit_base_1600ep.pth"
    cfg.MODEL.EXTRA_MERGER = False
    cfg.MODEL.RETURN_INTER = False
    cfg.MODEL.BACKBONE = CfgNode({"TYPE": "hivit_base", "STRIDE": 16})
    cfg.MODEL.HEAD = CfgNode({"TYPE": "CENTER", "NUM_CHANNELS": 256})
    cfg.DATA.DYNAMIC = CfgNode({"CENTER_JITTER": 0, "FACTOR": 3.0, "SCALE_JITTER": 0, "SIZE": 192, "NUMBER": 1})
    cfg.TEST.DYNAMIC_FACTOR = 3.0
    cfg.TEST.DYNAMIC_SIZE = 192
    cfg.TRAIN.DROP_PATH_RATE = 0.1
    cfg.DATA.TRAIN.DATASETS_NAME = ["LASOT", "GOT10K_vottrain"]
    cfg.DATA.TRAIN.DATASETS_RATIO = [1, 1]
