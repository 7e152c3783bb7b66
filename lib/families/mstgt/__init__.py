"""MSTGT (Pan et al., "Multi-scale spatio-temporal guidance for visual tracking", Neurocomputing 2025): HiViT-B
one-stream tracker with a multi-scale template prompt and spatio-temporal tokens carried across frames.

Official code: github.com/capf-2011/MSTGT (does not run as released; no weights published). The authors' runs
named two layers MSPG / STPG; `adapt_state_dict` maps those keys onto the release's MSVC / MSTG.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lib.families import Family, Lazy, TinyRun
from lib.families.mstgt.config import add_config, check_mixing_keys

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

    from lib.config.node import CfgNode

# Key names of the authors' checkpoints -> the released model's.
AUTHOR_KEY_ALIASES = {"backbone.MSPG.weight": "backbone.MSVC.weight", "backbone.STPG.weight": "backbone.MSTG.weight"}


def build_actor(net: "nn.Module", cfg: "CfgNode", script: str):
    from lib.families.mstgt.actor import MSTGTActor

    return MSTGTActor(net, cfg)


def data_options(cfg: "CfgNode", script: str) -> dict:
    """The processing adds each search crop's Gaussian centre label ('search_label') on the token grid and draws the
    search-area factor per sample in DA.sfactor, with the border placement at DA.border_prob (the release's
    processing_imix, which its default `--datr 1` training uses). With DA.imix, the mixed sampling: on the epochs
    after DA.imix_epoch that are multiples of DA.imix_interval, every training sample carries another object of its
    class, pasted into its search crops covering at most DA.imix_occrate of the target (behind it with probability
    DA.imix_reverse_prob); see lib/families/mstgt/config.py for what the release does with these keys."""
    from lib.train.data.paste import ObjectPaste
    from lib.train.data.sampler import EpochSchedule

    check_mixing_keys(cfg.DA)
    processing = {"heatmap_stride": cfg.MODEL.BACKBONE.STRIDE, "search_factor_range": tuple(cfg.DA.sfactor),
                  "border_prob": cfg.DA.border_prob}
    sampler = {}
    if cfg.DA.imix:
        sampler["extra_object_epochs"] = EpochSchedule(after=cfg.DA.imix_epoch, every=cfg.DA.imix_interval)
        processing["paste"] = ObjectPaste(max_occlusion=cfg.DA.imix_occrate, behind_prob=cfg.DA.imix_reverse_prob)
    return {"sampler": sampler, "processing": processing}


def adapt_state_dict(state: dict[str, "torch.Tensor"]) -> dict[str, "torch.Tensor"]:
    return {AUTHOR_KEY_ALIASES.get(k, k): v for k, v in state.items()}


def dummy_inputs(cfg: "CfgNode", device: "torch.device | str"):
    """One tracking step (template and search crops at the TEST sizes, no carried tokens yet), counted as the
    manifest's figure was: with the official pin thop 0.0.31, which has no LayerNorm rule (MSTGT's stem norms act
    on 16 inner tokens per patch, 0.19 % of the MACs under later thop versions)."""
    import torch
    import torch.nn as nn

    from lib.utils.profiling import ProfileStep

    template = torch.randn(1, 3, cfg.TEST.TEMPLATE_SIZE, cfg.TEST.TEMPLATE_SIZE, device=device)
    search = torch.randn(1, 3, cfg.TEST.SEARCH_SIZE, cfg.TEST.SEARCH_SIZE, device=device)

    def uncounted(module, inputs, output):
        module.total_ops += torch.zeros(1, dtype=torch.float64)

    def steps(model: "nn.Module") -> list[ProfileStep]:
        return [ProfileStep("forward", model, args=(template, search), thop_rules={nn.LayerNorm: uncounted})]

    return steps


FAMILY = Family(
    name="mstgt",
    scripts={"mstgt": "MSTGT"},
    trackers={"mstgt": "mstgt"},
    add_config=add_config,
    build_model=Lazy("lib.families.mstgt.model:build_mstgt"),
    build_actor=build_actor,
    build_tracker=Lazy("lib.families.mstgt.tracker:MSTGTTracker"),
    data_options=data_options,
    adapt_state_dict=adapt_state_dict,
    dummy_inputs=dummy_inputs,
    tiny={"mstgt": TinyRun("tiny")},
    # The got file builds the same network as the full-data file the manifest was made from.
    manifests={("mstgt", f"MSTGT-{data}-256"): "mstgt_256.json" for data in ("full", "got")},
    reference_step=os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_step.py"),
    speed_models={"MSTGT-256": ("mstgt", "MSTGT-full-256")},
    description="MSTGT: HiViT-B tracker with multi-scale prompt and carried spatio-temporal tokens (2025)",
)
