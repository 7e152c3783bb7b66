"""SeqTrack config keys: the official `lib/config/seqtrack/config.py` schema (microsoft/VideoX, SeqTrack), with its
defaults, on top of the shared schema. Official experiment files load unmodified.

The pre-training file is not a key of the official schema: it follows from MODEL.ENCODER.PRETRAIN_TYPE and TYPE
(`mae` -> mae_pretrain_vit_base.pth / mae_pretrain_vit_large.pth in the pretrained_networks folder; `scratch` ->
none), see model.py.
"""
from __future__ import annotations

from lib.config.node import CfgNode, at_least

SEQ_FORMATS = ("xywh", "corner", "whxy")


def _model() -> CfgNode:
    model = CfgNode({
        "HIDDEN_DIM": 256,  # decoder width and vocabulary embedding size
        "BINS": 4000,  # coordinate tokens; END = BINS, START = BINS + 1
        "FEATURE_TYPE": "x",  # decoder memory: the search tokens only (the released models)
        "ENCODER": CfgNode({"TYPE": "vit_base_patch16", "DROP_PATH": 0.0, "PRETRAIN_TYPE": "mae", "STRIDE": 16,
                            "USE_CHECKPOINT": False}),
        "DECODER": CfgNode({"NHEADS": 8, "DROPOUT": 0.1, "DIM_FEEDFORWARD": 1024, "DEC_LAYERS": 6,
                            "PRE_NORM": False}),
    })
    model.set_check("BINS", *at_least(2))
    model.ENCODER.set_types("DROP_PATH", (int, float))
    return model


def _per_dataset(values: dict) -> CfgNode:
    """A value per test dataset name (upper case) with a DEFAULT; a free mapping, as official files add names."""
    return CfgNode(values, new_allowed=True)


def add_config(cfg: CfgNode, script: str) -> None:
    cfg.MODEL = _model()
    cfg.TRAIN.ENCODER_MULTIPLIER = 0.1  # encoder LR = this factor x LR
    cfg.TRAIN.FREEZE_ENCODER = False
    cfg.TRAIN.ENCODER_OPEN = []  # with FREEZE_ENCODER: encoder parameter names / block name parts kept trainable
    cfg.TRAIN.CE_WEIGHT = 1.0
    cfg.TRAIN.BATCH_SIZE = 8
    cfg.DATA.SAMPLER_MODE = "order"
    cfg.DATA.LOADER = "tracking"
    # Token order of the box: xywh is (cx, cy, w, h) despite its name; corner (x0, y0, x1, y1); whxy (w, h, cx, cy).
    cfg.DATA.SEQ_FORMAT = "xywh"
    cfg.DATA.SEARCH.SIZE, cfg.DATA.SEARCH.FACTOR, cfg.DATA.SEARCH.CENTER_JITTER = 256, 4.0, 3.5
    cfg.DATA.TEMPLATE.SIZE, cfg.DATA.TEMPLATE.FACTOR = 256, 4.0
    cfg.DATA.TRAIN.DATASETS_NAME = ["LASOT", "GOT10K_vottrain"]
    cfg.DATA.TRAIN.DATASETS_RATIO = [1, 1]
    cfg.DATA.VAL.DATASETS_NAME = []  # the official recipe has no validation
    cfg.DATA.VAL.DATASETS_RATIO = []
    cfg.TEST.TEMPLATE_FACTOR, cfg.TEST.TEMPLATE_SIZE = 4.0, 256
    cfg.TEST.SEARCH_FACTOR, cfg.TEST.SEARCH_SIZE = 4.0, 256
    cfg.TEST.WINDOW = False  # Hann window on the centre tokens
    cfg.TEST.NUM_TEMPLATES = 1
    cfg.TEST.UPDATE_INTERVALS = _per_dataset({
        "DEFAULT": 9999, "LASOT": 450, "LASOT_EXTENSION_SUBSET": 9999, "GOT10K_TEST": 1, "TRACKINGNET": 25,
        "TNL2K": 25, "OTB": 9999, "NFS": 9999, "UAV": 9999, "VOT20": 10, "VOT21": 10, "VOT22": 10})
    cfg.TEST.UPDATE_THRESHOLD = _per_dataset({"DEFAULT": 0.6, "VOT20": 0.475, "VOT21": 0.475, "VOT22": 0.475})
