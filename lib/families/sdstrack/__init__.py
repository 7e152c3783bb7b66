"""SDSTrack (Hou et al., CVPR 2024): self-distillation symmetric adapters for RGB-D / RGB-T / RGB-E tracking.

Official code: github.com/hoqolo/SDSTrack. An OSTrack-256-CE network shared by an RGB and an auxiliary stream,
adapters in every block, cross-modal fusion at blocks 3/6/9/11. Only the adapters, the auxiliary patch embedding
and the final norm train; the rest comes from an OSTrack checkpoint through TRAIN.INIT_FROM (non-strict, as the
official code loads it: TRAIN.INIT_STRICT false).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lib.families import Family, Lazy, TinyRun
from lib.families.sdstrack.config import add_config

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

    from lib.config.node import CfgNode

# Official parameter groups: names containing these train at LR, the final norm at LR * BACKBONE_MULTIPLIER,
# everything else is frozen.
ADAPTED = ("Adapter", "multimodal")
FINAL_NORM = "backbone.norm."


def build_actor(net: "nn.Module", cfg: "CfgNode", script: str):
    from lib.families.sdstrack.actor import SDSTrackActor

    return SDSTrackActor(net, cfg)


def param_groups(net: "nn.Module", cfg: "CfgNode") -> list[dict]:
    """Adapters and the auxiliary patch embedding at LR, the final norm at LR * BACKBONE_MULTIPLIER; every other
    parameter stops training."""
    adapted, norm = [], []
    for name, param in net.named_parameters():
        if any(key in name for key in ADAPTED):
            adapted.append(param)
        elif name.startswith(FINAL_NORM):
            norm.append(param)
        else:
            param.requires_grad_(False)
    groups = [{"params": [p for p in adapted if p.requires_grad], "lr": cfg.TRAIN.LR},
              {"params": [p for p in norm if p.requires_grad], "lr": cfg.TRAIN.LR * cfg.TRAIN.BACKBONE_MULTIPLIER}]
    return [g for g in groups if g["params"]]


def dummy_inputs(cfg: "CfgNode", device: "torch.device | str") -> tuple:
    """OSTrack's tracking step on 6-channel crops."""
    import torch

    from lib.config.defaults import input_channels
    from lib.families.ostrack import dummy_inputs as ostrack_dummy_inputs

    template, search, mask = ostrack_dummy_inputs(cfg, device)
    channels = input_channels(cfg.DATA)
    return (torch.randn(1, channels, *template.shape[2:], device=device),
            torch.randn(1, channels, *search.shape[2:], device=device), mask)


FAMILY = Family(
    name="sdstrack",
    scripts={"sdstrack": "SDSTrack"},
    trackers={"sdstrack": "sdstrack"},
    add_config=add_config,
    build_model=Lazy("lib.families.sdstrack.model:build_sdstrack"),
    build_actor=build_actor,
    build_tracker=Lazy("lib.families.sdstrack.tracker:SDSTrackTracker"),
    data_options=Lazy("lib.families.ostrack:data_options"),
    dummy_inputs=dummy_inputs,
    param_groups=param_groups,
    tiny={"sdstrack": TinyRun("tiny_rgbd")},
    # The three files build the same network (only data, epochs and learning rates differ).
    manifests={("sdstrack", f"cvpr2024_{m}"): "sdstrack_rgbd.json" for m in ("rgbd", "rgbt", "rgbe")},
    reference_step=os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_step.py"),
    speed_models={"SDSTrack-RGBD": ("sdstrack", "cvpr2024_rgbd")},
    description="SDSTrack: symmetric adapters and self-distillation for RGB-D/T/E tracking (CVPR 2024)",
)
