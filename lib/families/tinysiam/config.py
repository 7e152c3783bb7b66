"""TinySiam config keys (the shared schema plus these; the tracker's test-time steadying keys are OSTrack's)."""
from __future__ import annotations

from lib.config.node import CfgNode, at_least, between, one_of
from lib.families.ostrack.config import add_steadying_config


def add_config(cfg: CfgNode, script: str) -> None:
    add_steadying_config(cfg)
    # WIDTHS: channels of the 3x3 conv layers (a change of width halves the resolution); STRIDE: what they give,
    # stated so that the processing's label grid and the tracker's window read it from the config.
    cfg.MODEL.BACKBONE = CfgNode({"WIDTHS": [16, 32, 32, 64, 64], "STRIDE": 8})
    cfg.MODEL.BACKBONE.set_check("STRIDE", *at_least(1))
    # Side of the template-feature kernel (cells, odd) correlated with the search features.
    cfg.MODEL.KERNEL = 5
    # Weights of the kernel's cells in the normalised correlation: "uniform", or "hann" (the centre counts most).
    cfg.MODEL.KERNEL_WINDOW = "uniform"
    cfg.MODEL.set_check("KERNEL_WINDOW", *one_of("uniform", "hann"))
    # "normalized": per-channel correlation coefficient (TM_CCOEFF_NORMED on features); "raw": SiamRPN++'s product.
    cfg.MODEL.CORRELATION = "normalized"
    cfg.MODEL.set_check("CORRELATION", *one_of("normalized", "raw"))
    cfg.MODEL.HEAD = CfgNode({"NUM_CHANNELS": 32, "SCORE_PRIOR": 0.01})
    cfg.MODEL.HEAD.set_check("SCORE_PRIOR", *between(0.0, 0.999))
    # Size from a search over three scales instead of the size head when SCALE_STEP > 0 (see tracker.py); the
    # penalty multiplies the peak of the two off-scale crops.
    cfg.TEST.SCALE_STEP = 0.0
    cfg.TEST.set_check("SCALE_STEP", *between(0.0, 1.0))
    cfg.TEST.SCALE_PENALTY = 0.97
    cfg.TEST.set_check("SCALE_PENALTY", *between(0.0, 1.0))
    # Share of the pixel-level match of the target box in the score map (see tracker.py; 0: the network's alone).
    cfg.TEST.PIXEL_WEIGHT = 0.0
    cfg.TEST.set_check("PIXEL_WEIGHT", *between(0.0, 1.0))
    cfg.DATA.TEMPLATE.SIZE = 72
    cfg.DATA.SEARCH.SIZE = 144
    cfg.DATA.SEARCH.FACTOR = 4.0
    cfg.DATA.SEARCH.CENTER_JITTER = 3.0
    cfg.DATA.SEARCH.SCALE_JITTER = 0.25
    cfg.TEST.TEMPLATE_SIZE = 72
    cfg.TEST.SEARCH_SIZE = 144
    cfg.TEST.SEARCH_FACTOR = 4.0
