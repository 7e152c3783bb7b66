"""DynamicTrack config keys: the STARK-S schema with the official per-branch backbone keys
(chenxlin222/DynamicTrack tracker_code/lib/config/dynamictrack/config.py).

MODEL.BACKBONE.TYPE1 / TYPE2 name the light and heavy ResNets; MODEL.BACKBONE.Dynamic adds the router (step 2).
TEST.ROUTER_THRESHOLD is ours: the operating point of the router at test time (heavy route when score < it);
0.5 is the model's own `dy_thres`. The official TRAIN.Training key is not kept: it only set `nn.Module.training`,
which train()/eval() overwrite.
"""
from __future__ import annotations

from lib.config.node import CfgNode, ConfigError, between
from lib.families.stark.config import add_config as add_stark_config

ROUTER = "router"


def add_config(cfg: CfgNode, script: str) -> None:
    """Extend the shared schema `cfg` in place with the keys and defaults of DynamicTrack."""
    if script != "dynamictrack":
        raise ValueError(f"not a DynamicTrack script: '{script}'")
    add_stark_config(cfg, "stark_s")
    backbone = cfg.MODEL.BACKBONE
    del backbone["TYPE"]
    backbone.TYPE1 = "resnet18"
    backbone.TYPE2 = "resnet50"
    # true: the adaptive router on the light search features (step 2 trains it; the tracker routes with it).
    backbone.Dynamic = True
    cfg.TEST.ROUTER_THRESHOLD = 0.5
    cfg.TEST.set_check("ROUTER_THRESHOLD", *between(0.0, 1.0))


def is_router_step(cfg: CfgNode) -> bool:
    """Step 2: the router is built and it alone trains, from a step-1 model."""
    return bool(cfg.MODEL.BACKBONE.Dynamic) and list(cfg.TRAIN.TRAINABLE) == [ROUTER]


def check_step(cfg: CfgNode) -> None:
    """Step 1 trains both branches jointly without a router; step 2 trains only the router on a step-1 model."""
    if list(cfg.TRAIN.TRAINABLE) not in ([], [ROUTER]):
        raise ConfigError(f"TRAIN.TRAINABLE must be [] (step 1) or [router] (step 2), got {list(cfg.TRAIN.TRAINABLE)}")
    if not is_router_step(cfg):
        return
    if not cfg.TRAIN.INIT_FROM:
        raise ConfigError("DynamicTrack step 2 starts from a step-1 model: set TRAIN.INIT_FROM (a checkpoint path "
                          "or 'dynamictrack:<step-1 config>')")
