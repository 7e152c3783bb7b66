"""OSTrack at test time: one template crop (kept for the whole sequence), a search crop per frame, the score
map multiplied by a Hann window, the box read at the windowed peak. No template update."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from lib.models.layers.candidate_elimination import template_token_mask
from lib.test.parameter import TrackerParams
from lib.test.tracker.base import Crop, NetworkTracker, TrackState, split_batch
from lib.test.tracker.utils import hann2d


def template_box_in_crop(crop: Crop, size: int) -> torch.Tensor:
    """The template box in its own crop, normalised xywh (1, 4): the crop is centred on the box."""
    w, h = crop.box[2] * crop.resize_factor, crop.box[3] * crop.resize_factor
    centre = (size - 1) / 2
    return torch.tensor([[centre - w / 2, centre - h / 2, w, h]]) / size


@dataclass
class OSTrackState(TrackState):
    template_mask: torch.Tensor | None = None  # the template tokens that score search tokens (CE), or None: all
    template_tokens: torch.Tensor | None = None  # the template crop's patch tokens, embedded once per sequence


class OSTrackTracker(NetworkTracker):
    State = OSTrackState

    def __init__(self, params: TrackerParams, net: nn.Module | None = None):
        super().__init__(params, net)
        stride = params.cfg.MODEL.BACKBONE.STRIDE
        self.window = hann2d(params.search_size // stride).to(params.device)

    def encode_template(self, template: Crop, info: dict) -> None:
        self.state.template = template
        self.state.template_tokens = self.net.backbone.embed_templates(template.tensor)
        backbone = self.params.cfg.MODEL.BACKBONE
        if backbone.CE_LOC:
            size = self.params.template_size
            self.state.template_mask = template_token_mask(backbone.CE_TEMPLATE_RANGE, size, backbone.STRIDE, 1,
                                                     template.tensor.device,
                                                     template_box_in_crop(template, size).to(template.tensor.device))

    def search_tensors(self, search: Crop) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        return self.state.template_tokens, search.tensor, self.state.template_mask

    def forward_tensors(self, template_tokens: torch.Tensor, search: torch.Tensor,
                        template_mask: torch.Tensor | None) -> dict:
        return self.locate(self.net(None, search, ce_template_mask=template_mask, score_only=True,
                                    template_tokens=template_tokens))

    @classmethod
    def forward_search_batch(cls, trackers: list["OSTrackTracker"], searches: list[Crop]) -> list[dict]:
        masks = [t.state.template_mask for t in trackers]
        out = trackers[0].forward_tensors(torch.cat([t.state.template_tokens for t in trackers], dim=1),
                                          torch.cat([s.tensor for s in searches]),
                                          None if masks[0] is None else torch.cat(masks))
        return split_batch(out, len(trackers))

    def locate(self, out: dict) -> dict:
        """`out` plus the box at the peak of the windowed score map, peak_box (B, 4) normalised cxcywh, and that
        peak, peak_score (B, 1): read off the size and offset maps where the network returns them, else computed
        at the peak cell alone from head_input (the score_only forward)."""
        response = self.windowed(out["score_map"])
        head = self.net.box_head
        if "size_map" in out:
            box, peak = head.cal_bbox(response, out["size_map"], out["offset_map"], return_score=True)
        else:
            box, peak = head.box_at_peak(response, out["head_input"])
        return {**out, "peak_box": box, "peak_score": peak}

    def decode_box(self, out: dict, search: Crop) -> tuple[torch.Tensor, dict]:
        test = self.params.cfg.TEST
        box = out["peak_box"].view(-1, 4).mean(dim=0)
        if test.SIZE_RATE == 1 and test.MIN_SCORE == 0:  # the official decoding
            return box, {}
        return self.steady_box(box, float(out["peak_score"].max()), search), {}

    def windowed(self, score_map: torch.Tensor) -> torch.Tensor:
        """The score map times the Hann window, blended by TEST.WINDOW_WEIGHT (1: the official score x window)."""
        weight = self.params.cfg.TEST.WINDOW_WEIGHT
        return score_map * (1 - weight + weight * self.window)

    def steady_box(self, box: torch.Tensor, peak: float, search: Crop) -> torch.Tensor:
        """Keep the previous box when the peak is weak, and take only part of the size change otherwise
        (normalised crop coordinates: the crop is centred on the previous box)."""
        test = self.params.cfg.TEST
        previous = box.new_tensor(self.state.box[2:]) * search.resize_factor / self.params.search_size
        if peak < test.MIN_SCORE:
            return torch.cat([box.new_tensor([0.5, 0.5]), previous])
        return torch.cat([box[:2], previous + test.SIZE_RATE * (box[2:] - previous)])
