"""OSTrack (Ye et al., ECCV 2022): one-stream ViT with candidate elimination and a center head.

Official code: github.com/botaoye/OSTrack. Released `OSTrack_ep0300.pth.tar` checkpoints load with strict=True
(their `net` entry); keys and shapes are checked against committed manifests.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lib.families import Family, Lazy, TinyRun
from lib.families.ostrack.config import add_config

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

    from lib.config.node import CfgNode


def build_actor(net: "nn.Module", cfg: "CfgNode", script: str):
    from lib.families.ostrack.actor import OSTrackActor

    return OSTrackActor(net, cfg)


def data_options(cfg: "CfgNode", script: str) -> dict:
    """The processing adds the Gaussian centre label of each search crop ('search_label') on the token grid."""
    return {"sampler": {}, "processing": {"heatmap_stride": cfg.MODEL.BACKBONE.STRIDE}}


def dummy_inputs(cfg: "CfgNode", device: "torch.device | str") -> tuple:
    """One tracking step: template and search crops at the TEST sizes, and the CE template mask."""
    import torch

    from lib.models.layers.candidate_elimination import template_token_mask

    backbone = cfg.MODEL.BACKBONE
    template = torch.randn(1, 3, cfg.TEST.TEMPLATE_SIZE, cfg.TEST.TEMPLATE_SIZE, device=device)
    search = torch.randn(1, 3, cfg.TEST.SEARCH_SIZE, cfg.TEST.SEARCH_SIZE, device=device)
    mask = None
    if backbone.CE_LOC:
        box = torch.tensor([[0.25, 0.25, 0.5, 0.5]], device=device)
        mask = template_token_mask(backbone.CE_TEMPLATE_RANGE, cfg.TEST.TEMPLATE_SIZE, backbone.STRIDE, 1, device,
                                   box)
    return template, search, mask


FAMILY = Family(
    name="ostrack",
    scripts={"ostrack": "OSTrack"},
    trackers={"ostrack": "ostrack"},
    add_config=add_config,
    build_model=Lazy("lib.families.ostrack.model:build_ostrack"),
    build_actor=build_actor,
    build_tracker=Lazy("lib.families.ostrack.tracker:OSTrackTracker"),
    data_options=data_options,
    dummy_inputs=dummy_inputs,
    tiny={"ostrack": TinyRun("tiny")},
    # The got10k files build the same networks as the full-data files the manifests were made from.
    manifests={("ostrack", f"vitb_{size}_mae_ce_32x4_{data}"): f"ostrack{size}.json"
               for size in (256, 384) for data in ("ep300", "got10k_ep100")},
    reference_step=os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_step.py"),
    speed_models={"OSTrack-256": ("ostrack", "vitb_256_mae_ce_32x4_ep300"),
                  "OSTrack-384": ("ostrack", "vitb_384_mae_ce_32x4_ep300")},
    description="OSTrack: one-stream ViT tracker with candidate elimination (ECCV 2022)",
)
