"""DynamicTrack test-time tracker (the official lib/test/tracker/stark_s.py flow, with the trained router).

The template is encoded once by the light backbone. Per frame: the light backbone on the search crop, then the
router's score s; s < TEST.ROUTER_THRESHOLD takes the heavy route (ResNet-50 search tokens, transformer2, head2),
otherwise the light route (transformer1, head1 on the ResNet-18 search tokens). Threshold 0 is always light, 1 is
always heavy (s < 1 for a sigmoid). A model built without a router (MODEL.BACKBONE.Dynamic: false, a step-1
model) always takes the heavy route, as the official model does. No Hann window, no template update (STARK-S).
The released tracker builds a fresh, never-loaded router instead of the trained one; here the checkpoint's
router is the one used.
"""
from __future__ import annotations

import torch

from lib.families.stark.model import TokenDict, merge_tokens
from lib.families.stark.tracker import STARKSTracker
from lib.test.parameter import TrackerParams
from lib.test.tracker.base import Crop

LIGHT, HEAVY = "light", "heavy"


class DynamicTrackTracker(STARKSTracker):
    recorded_outputs = ("heavy_route", "router_score")  # saved per frame by the runner (<seq>_outputs.txt)

    def __init__(self, params: TrackerParams, net: torch.nn.Module | None = None):
        super().__init__(params, net)
        self.threshold = float(params.cfg.TEST.ROUTER_THRESHOLD)

    def encode(self, crop: Crop, branch: int = 1) -> TokenDict:
        return self.net.forward_backbone(branch, crop.tensor, crop.mask)

    def route(self, light: TokenDict) -> tuple[str, float | None]:
        """(route, router score); heavy when score < threshold, or always without a router."""
        if self.net.router is None:
            return HEAVY, None
        score = self.net.route_score(light["feat"]).item()
        return (HEAVY if score < self.threshold else LIGHT), score

    def forward_search(self, search: Crop) -> dict:
        light = self.encode(search, 1)
        route, score = self.route(light)
        branch = 2 if route == HEAVY else 1
        tokens = self.encode(search, 2) if route == HEAVY else light
        boxes = self.net.forward_transformer(branch, merge_tokens(self.state.templates + [tokens]))
        return {"pred_boxes": boxes, "route": route, "router_score": score}

    def decode_box(self, out: dict, search: Crop) -> tuple[torch.Tensor, dict]:
        box, _ = super().decode_box(out, search)
        return box, {"route": out["route"], "heavy_route": float(out["route"] == HEAVY),
                     "router_score": out["router_score"]}


def build_tracker(params: TrackerParams) -> DynamicTrackTracker:
    return DynamicTrackTracker(params)
