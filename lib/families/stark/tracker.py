"""STARK test-time trackers on the generic network tracking loop.

stark_s: template tokens computed once; each frame crops the search region around the previous box, runs the
backbone on it and the transformer on [template tokens, search tokens], and takes the mean box of the queries.
stark_st: as stark_s with 1 + len(intervals) templates; after each frame, dynamic template i is re-cropped at the
new box when frame_id % interval_i == 0 and the score head's sigmoid exceeds 0.5.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lib.families.stark.model import TokenDict, merge_tokens
from lib.test.parameter import TrackerParams
from lib.test.tracker.base import Crop, NetworkTracker, TrackState, split_batch

UPDATE_SCORE_THRESHOLD = 0.5
TOKEN_KEYS = ("feat", "mask", "pos")


@dataclass
class STARKState(TrackState):
    templates: list[TokenDict] = field(default_factory=list)  # backbone tokens: the initial, then dynamic ones


class STARKSTracker(NetworkTracker):
    use_mask = True
    run_cls_head = False
    State = STARKState

    def __init__(self, params: TrackerParams, net: torch.nn.Module | None = None):
        if params.search_size != params.cfg.DATA.SEARCH.SIZE:
            # The corner head's grid is fixed by the training search size.
            raise ValueError(f"TEST.SEARCH_SIZE ({params.search_size}) must equal DATA.SEARCH.SIZE "
                             f"({params.cfg.DATA.SEARCH.SIZE}) for {params.tracker_name}")
        super().__init__(params, net)

    def encode(self, crop: Crop) -> TokenDict:
        return self.net.forward_backbone(crop.tensor, crop.mask)

    def encode_template(self, template: Crop, info: dict) -> None:
        self.state.templates = [self.encode(template)]

    def search_tensors(self, search: Crop) -> tuple[torch.Tensor, ...]:
        return (search.tensor, search.mask, *(d[k] for d in self.state.templates for k in TOKEN_KEYS))

    def forward_tensors(self, image: torch.Tensor, mask: torch.Tensor, *template_tokens: torch.Tensor
                        ) -> dict[str, torch.Tensor]:
        templates = [dict(zip(TOKEN_KEYS, template_tokens[i:i + len(TOKEN_KEYS)]))
                     for i in range(0, len(template_tokens), len(TOKEN_KEYS))]
        seq_dict = merge_tokens(templates + [self.net.forward_backbone(image, mask)])
        out, _, _ = self.net.forward_transformer(seq_dict, run_box_head=True, run_cls_head=self.run_cls_head)
        return out

    @classmethod
    def forward_search_batch(cls, trackers: list["STARKSTracker"], searches: list[Crop]) -> list[dict]:
        net = trackers[0].net
        search = net.forward_backbone(torch.cat([s.tensor for s in searches]), torch.cat([s.mask for s in searches]))
        slots = [stack_tokens([t.state.templates[i] for t in trackers])
                 for i in range(len(trackers[0].state.templates))]
        out, _, _ = net.forward_transformer(merge_tokens(slots + [search]), run_box_head=True,
                                            run_cls_head=cls.run_cls_head)
        return split_batch(out, len(trackers))

    def decode_box(self, out: dict[str, torch.Tensor], search: Crop) -> tuple[torch.Tensor, dict]:
        return out["pred_boxes"].reshape(-1, 4).mean(dim=0), {}


class STARKSTTracker(STARKSTracker):
    run_cls_head = True

    def __init__(self, params: TrackerParams, net: torch.nn.Module | None = None):
        super().__init__(params, net)
        self.update_intervals = update_intervals(params.cfg, params.dataset_name)

    def encode_template(self, template: Crop, info: dict) -> None:
        first = self.encode(template)
        self.state.templates = [first] * (1 + len(self.update_intervals))

    def decode_box(self, out: dict[str, torch.Tensor], search: Crop) -> tuple[torch.Tensor, dict]:
        box, _ = super().decode_box(out, search)
        return box, {"conf_score": out["pred_logits"].reshape(-1).sigmoid().item()}

    def update_templates(self, image: np.ndarray, out: Any, extras: dict) -> None:
        if extras["conf_score"] <= UPDATE_SCORE_THRESHOLD:
            return
        for i, interval in enumerate(self.update_intervals):
            if self.state.frame_id % interval == 0:
                crop = self.crop(image, self.state.box, self.params.template_factor, self.params.template_size)
                self.state.templates[i + 1] = self.encode(crop)


def stack_tokens(token_dicts: list[TokenDict]) -> TokenDict:
    """Token dicts of single crops -> one batch (feat/pos are (HW, B, C), mask (B, HW))."""
    return {"feat": torch.cat([d["feat"] for d in token_dicts], dim=1),
            "mask": torch.cat([d["mask"] for d in token_dicts], dim=0),
            "pos": torch.cat([d["pos"] for d in token_dicts], dim=1)}


def update_intervals(cfg, dataset_name: str) -> list[int]:
    """TEST.UPDATE_INTERVALS[<DATASET NAME>], else DATA.MAX_SAMPLE_INTERVAL (the official fallback)."""
    table = cfg.TEST.UPDATE_INTERVALS
    name = dataset_name.upper()
    source = f"TEST.UPDATE_INTERVALS.{name}" if name in table else "DATA.MAX_SAMPLE_INTERVAL"
    value = table[name] if name in table else cfg.DATA.MAX_SAMPLE_INTERVAL
    intervals = value if isinstance(value, list) else [value]
    if not intervals or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in intervals):
        raise ValueError(f"{source} must be a non-empty list of positive integers, got {value!r}")
    return intervals


TRACKERS = {"stark_s": STARKSTracker, "stark_st": STARKSTTracker}


def build_tracker(params: TrackerParams) -> STARKSTracker:
    return TRACKERS[params.tracker_name](params)
