"""TinySiam training objective: OSTrack's (2 * GIoU + 5 * L1 + focal loss on the Gaussian centre map)."""
from __future__ import annotations

from lib.families.ostrack.actor import OSTrackActor


class TinySiamActor(OSTrackActor):
    def forward_pass(self, data: dict, **net_kwargs) -> dict:
        return self.net(data["template_images"][0], data["search_images"][0], **net_kwargs)
