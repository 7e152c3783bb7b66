"""SeqTrack (Chen et al., CVPR 2023, microsoft/VideoX SeqTrack): a ViT encoder over [search, template, template]
and a causal transformer decoder that reads the box as four coordinate tokens.

Script `seqtrack` and tracker `seqtrack` use the official experiment files (seqtrack_b256, _b384, _l256, _l384 and
their _got variants). Released `SEQTRACK_ep0500.pth.tar` files load with strict=True (their `net` entry).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lib.families import Family, Lazy, TinyRun
from lib.families.seqtrack.config import add_config

if TYPE_CHECKING:
    import torch.nn as nn

    from lib.config.node import CfgNode


def build_actor(net: "nn.Module", cfg: "CfgNode", script: str):
    from lib.families.seqtrack.actor import SeqTrackActor

    return SeqTrackActor(net, cfg)


def data_options(cfg: "CfgNode", script: str) -> dict:
    """The official SeqTrack processing: crop boxes normalised by the output size - 1, no padding rejection."""
    return {"sampler": {}, "processing": {"norm_by": "out-1", "reject_padding": False}}


def param_groups(net: "nn.Module", cfg: "CfgNode") -> list[dict]:
    """The official groups: parameters whose name contains 'encoder' learn at LR x ENCODER_MULTIPLIER."""
    named = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    groups = [{"params": [p for n, p in named if "encoder" not in n]}]
    encoder = [p for n, p in named if "encoder" in n]
    if encoder:
        groups.append({"params": encoder, "lr": cfg.TRAIN.LR * cfg.TRAIN.ENCODER_MULTIPLIER})
    return groups


FAMILY = Family(
    name="seqtrack",
    scripts={"seqtrack": "SEQTRACK"},
    trackers={"seqtrack": "seqtrack"},
    add_config=add_config,
    build_model=Lazy("lib.families.seqtrack.model:build_seqtrack"),
    build_actor=build_actor,
    build_tracker=Lazy("lib.families.seqtrack.tracker:build_tracker"),
    data_options=data_options,
    param_groups=param_groups,
    dummy_inputs=Lazy("lib.families.seqtrack.model:dummy_inputs"),
    tiny={"seqtrack": TinyRun("tiny")},
    # The _got files build the same networks as the files the manifests were made from.
    manifests={("seqtrack", f"seqtrack_b{size}{data}"): f"seqtrack_b{size}.json"
               for size in (256, 384) for data in ("", "_got")},
    reference_step=os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_step.py"),
    speed_models={"SeqTrack-B256": ("seqtrack", "seqtrack_b256"), "SeqTrack-B384": ("seqtrack", "seqtrack_b384")},
    description="SeqTrack: ViT encoder + autoregressive box-token decoder (CVPR 2023)",
)
