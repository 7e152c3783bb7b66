"""OSTrack config keys: the official `lib/config/ostrack/config.py` schema, with its defaults, plus
MODEL.HEAD.SCORE_PRIOR (off by default).

Keys that the official code declares but never reads (EXTRA_MERGER, RETURN_STAGES, MID_PE, MERGE_LAYER,
CLS_TOKEN_USE_MODE, FREEZE_LAYERS) are kept so official experiment files load; the model builder rejects values
of the others that the official code does not implement either (see model.py).
"""
from __future__ import annotations

from lib.config.node import CfgNode, between


def add_steadying_config(cfg: CfgNode) -> None:
    """Test-time steadying of the OSTrack tracker (and the trackers built on it). Not in the official schemas; the
    defaults are the official behaviour. WINDOW_WEIGHT blends the Hann window into the score (1: score x window),
    SIZE_RATE is the share of the predicted size change taken per frame (SiamRPN-style damping; 1: all of it),
    MIN_SCORE the windowed peak below which the previous box is kept (0: never)."""
    for key, default in (("WINDOW_WEIGHT", 1.0), ("SIZE_RATE", 1.0), ("MIN_SCORE", 0.0)):
        cfg.TEST[key] = default
        cfg.TEST.set_check(key, *between(0.0, 1.0))


def add_config(cfg: CfgNode, script: str) -> None:
    add_steadying_config(cfg)
    cfg.MODEL.PRETRAIN_FILE = "mae_pretrain_vit_base.pth"
    cfg.MODEL.EXTRA_MERGER = False
    cfg.MODEL.RETURN_INTER = False
    cfg.MODEL.RETURN_STAGES = []
    cfg.MODEL.BACKBONE = CfgNode({
        "TYPE": "vit_base_patch16_224",
        "STRIDE": 16,
        "MID_PE": False,
        "SEP_SEG": False,
        "CAT_MODE": "direct",
        "MERGE_LAYER": 0,
        "ADD_CLS_TOKEN": False,
        "CLS_TOKEN_USE_MODE": "ignore",
        # 0-based blocks that eliminate candidates, their keep ratios, and the template tokens that score:
        # ALL, CTR_POINT, CTR_REC or GT_BOX.
        "CE_LOC": [],
        "CE_KEEP_RATIO": [],
        "CE_TEMPLATE_RANGE": "ALL",
    })
    # SCORE_PRIOR is not in the official schema: the initial score-map probability, 0 for the official
    # initialisation (near 0.5); a small value steadies training from scratch (see lib/models/heads/center.py).
    cfg.MODEL.HEAD = CfgNode({"TYPE": "CENTER", "NUM_CHANNELS": 256, "SCORE_PRIOR": 0.0})

    cfg.TRAIN.FREEZE_LAYERS = [0]
    # Keep ratio 1 before CE_START_EPOCH, then a cosine down to CE_KEEP_RATIO[0] over CE_WARM_EPOCH epochs.
    cfg.TRAIN.CE_START_EPOCH = 20
    cfg.TRAIN.CE_WARM_EPOCH = 80
    cfg.TRAIN.DROP_PATH_RATE = 0.1
    # cls_token and pos_embed are kept for checkpoint compatibility but unused (as in the official DDP set-up).
    cfg.TRAIN.FIND_UNUSED_PARAMETERS = True

    cfg.DATA.TRAIN.DATASETS_NAME = ["LASOT", "GOT10K_vottrain"]
    cfg.DATA.TRAIN.DATASETS_RATIO = [1, 1]
