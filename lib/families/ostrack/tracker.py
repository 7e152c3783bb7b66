"""OSTrack at test time: one template crop (kept for the whole sequence), a search crop per frame, the score
map multiplied by a Hann window, the box read at the windowed peak. No template update."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from lib.models.layers.candidate_elimination import template_token_mask
from lib.test.parameter import TrackerParams
from lib.test.tracker.base import Crop, NetworkTracker, TrackState
from lib.test.tracker.utils import hann2d


def template_box_in_crop(crop: Crop, size: int) -> torch.Tensor:
    """The template box in its own crop, normalised xywh (1, 4): the crop is centred on the box."""
    w, h = crop.box[2] * crop.resize_factor, crop.box[3] * crop.resize_factor
    centre = (size - 1) / 2
    return torch.tensor([[centre - w / 2, centre - h / 2, w, h]]) / size


@dataclass
class OSTrackState(TrackState):
    template_mask: torch.Tensor | None = None  # the template tokens that score search tokens (CE), or None: all


class OSTrackTracker(NetworkTracker):
    State = OSTrackState

    def __init__(self, params: TrackerParams, net: nn.Module | None = None):
        super().__init__(params, net)
        stride = params.cfg.MODEL.BACKBONE.STRIDE
        self.window = hann2d(params.search_size // stride).to(params.device)

    def encode_template(self, template: Crop, info: dict) -> None:
        self.state.template = template
        backbone = self.params.cfg.MODEL.BACKBONE
        if backbone.CE_LOC:
            size = self.params.template_size
            self.state.template_mask = template_token_mask(backbone.CE_TEMPLATE_RANGE, size, backbone.STRIDE, 1,
                                                     template.tensor.device,
                                                     template_box_in_crop(template, size).to(template.tensor.device))

    def forward_search(self, search: Crop) -> dict:
        return self.net(self.state.template.tensor, search.tensor, ce_template_mask=self.state.template_mask)

    def decode_box(self, out: dict, search: Crop) -> tuple[torch.Tensor, dict]:
        response = self.window * out["score_map"]
        boxes = self.net.box_head.cal_bbox(response, out["size_map"], out["offset_map"])
        return boxes.view(-1, 4).mean(dim=0), {}
