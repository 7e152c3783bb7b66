"""STARK config keys, with the defaults of the official per-script config.py files (researchmm/Stark
lib/config/{stark_s,stark_st1,stark_st2}/config.py) on top of the shared schema.

Two keys are not in the official files: MODEL.HEAD_DIM (the official code reads it with a default of 256 but never
declares it) and MODEL.BACKBONE.PRETRAINED (the official code always loads ImageNet weights for training).
"""
from __future__ import annotations

from lib.config.node import CfgNode, ConfigError

STAGE1_SCRIPTS = ("stark_s", "stark_st1")
SPATIO_TEMPORAL_SCRIPTS = ("stark_st1", "stark_st2")


def _model(script: str) -> CfgNode:
    model = CfgNode({
        "HEAD_TYPE": "CORNER",
        "HIDDEN_DIM": 256,
        "NUM_OBJECT_QUERIES": 1,
        "POSITION_EMBEDDING": "sine",
        "PREDICT_MASK": False,
        # Width of the corner-head towers (channel, channel/2, /4, /8).
        "HEAD_DIM": 256,
        "BACKBONE": CfgNode({
            "TYPE": "resnet50",
            "OUTPUT_LAYERS": ["layer3"],
            "DILATION": False,
            # Load torchvision's ImageNet weights into the backbone when building for training.
            "PRETRAINED": True,
        }),
        "TRANSFORMER": CfgNode({
            "NHEADS": 8,
            "DROPOUT": 0.1,
            "DIM_FEEDFORWARD": 2048,
            "ENC_LAYERS": 6,
            "DEC_LAYERS": 6,
            "PRE_NORM": False,
            "DIVIDE_NORM": False,
        }),
    })
    if script in SPATIO_TEMPORAL_SCRIPTS:
        model.NLAYER_HEAD = 3
        model.BACKBONE.STRIDE = 16
    return model


def _update_intervals() -> CfgNode:
    """Template-update intervals (frames) per test dataset name, upper case; a free mapping."""
    return CfgNode({name: [200] for name in ("LASOT", "GOT10K_TEST", "TRACKINGNET", "VOT20", "VOT20LT")},
                   new_allowed=True)


def add_config(cfg: CfgNode, script: str) -> None:
    """Extend the shared schema `cfg` in place with the keys and defaults of STARK training script `script`."""
    if script not in STAGE1_SCRIPTS + ("stark_st2",):
        raise ValueError(f"not a STARK script: '{script}'")
    cfg.MODEL = _model(script)
    cfg.TRAIN.DEEP_SUPERVISION = False
    cfg.TRAIN.FREEZE_BACKBONE_BN = True
    # Backbone modules whose parameters stay frozen (conv1 freezes the whole stem, bn1 included).
    cfg.TRAIN.FREEZE_LAYERS = ["conv1", "layer1"]
    # The official DDP wrapper allows unused parameters (the score head in stage 1, auxiliary outputs).
    cfg.TRAIN.FIND_UNUSED_PARAMETERS = True
    cfg.DATA.TRAIN.DATASETS_NAME = ["LASOT", "GOT10K_vottrain"]
    cfg.DATA.TRAIN.DATASETS_RATIO = [1, 1]
    if script in SPATIO_TEMPORAL_SCRIPTS:
        cfg.DATA.SAMPLER_MODE = "trident_pro"
        cfg.DATA.MAX_SAMPLE_INTERVAL = [200]
        cfg.DATA.TEMPLATE.NUMBER = 2
    if script == "stark_st2":
        # Stage 2 trains only the score head, on positive/negative search regions.
        cfg.TRAIN.TRAIN_CLS = True
        cfg.TRAIN.TRAINABLE = ["cls_head"]
        cfg.TEST.UPDATE_INTERVALS = _update_intervals()


def check_stage(cfg: CfgNode, script: str) -> None:
    """Stage 2 is only meaningful as declared by the official recipe: the score head alone, trained on
    classification samples, on top of a stage-1 model."""
    if script != "stark_st2":
        return
    if not cfg.TRAIN.TRAIN_CLS:
        raise ConfigError("stark_st2 trains the score head on positive/negative samples: TRAIN.TRAIN_CLS must be "
                          "true (box training is stark_st1)")
    if list(cfg.TRAIN.TRAINABLE) != ["cls_head"]:
        raise ConfigError(f"stark_st2 with TRAIN.TRAIN_CLS trains only the score head: TRAIN.TRAINABLE must be "
                          f"['cls_head'], got {list(cfg.TRAIN.TRAINABLE)}")
    if not cfg.TRAIN.INIT_FROM:
        raise ConfigError("stark_st2 starts from a stage-1 model: set TRAIN.INIT_FROM (a checkpoint path or "
                          "'stark_st1:<config>'), e.g. train.py ... --script_prv stark_st1 --config_prv <config>")
