"""TinySiam: a small Siamese correlation tracker that trains in minutes on a CPU (the quickstart's tracker).

Not one of the published families: a conv backbone, SiamRPN++'s depth-wise cross-correlation and OSTrack's centre
head, losses and decoding. It is also the smallest example of a family that reuses another's parts.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from lib.families import Family, Lazy, TinyRun
from lib.families.ostrack import data_options  # the Gaussian centre label on the MODEL.BACKBONE.STRIDE grid
from lib.families.tinysiam.config import add_config

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

    from lib.config.node import CfgNode


def build_actor(net: "nn.Module", cfg: "CfgNode", script: str):
    from lib.families.tinysiam.actor import TinySiamActor

    return TinySiamActor(net, cfg)


def dummy_inputs(cfg: "CfgNode", device: "torch.device | str") -> tuple:
    import torch

    return (torch.randn(1, 3, cfg.TEST.TEMPLATE_SIZE, cfg.TEST.TEMPLATE_SIZE, device=device),
            torch.randn(1, 3, cfg.TEST.SEARCH_SIZE, cfg.TEST.SEARCH_SIZE, device=device))


FAMILY = Family(
    name="tinysiam",
    scripts={"tinysiam": "TinySiam"},
    trackers={"tinysiam": "tinysiam"},
    add_config=add_config,
    build_model=Lazy("lib.families.tinysiam.model:build_tinysiam"),
    build_actor=build_actor,
    build_tracker=Lazy("lib.families.tinysiam.tracker:TinySiamTracker"),
    data_options=data_options,
    dummy_inputs=dummy_inputs,
    tiny={"tinysiam": TinyRun("tiny")},
    speed_models={"TinySiam": ("tinysiam", "quickstart")},
    description="TinySiam: small Siamese correlation tracker for CPU quick runs (not a published family)",
)
