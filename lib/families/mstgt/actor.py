"""MSTGT training objective, as the official actor: 2 * GIoU + 5 * L1 + 1 * focal over the predictions of ALL
search frames of a sample (N_s * B boxes, frame-major, as the model concatenates them), each against its own
frame's box and Gaussian centre label."""
from __future__ import annotations

import torch

from lib.families.ostrack.actor import LABEL_KEY, OSTrackActor


class MSTGTActor(OSTrackActor):
    def __call__(self, data: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """data: template_images (1, B, 3, H, W), search_images (N_s, B, 3, H, W) in sampled order (the STT chain
        runs over them in that order), search_anno (N_s, B, 4) normalised xywh, the search labels (N_s, B, n, n)."""
        if len(data["template_images"]) != 1:
            raise ValueError("MSTGT trains with one template crop per sample (DATA.TEMPLATE.NUMBER = 1)")
        out = self.net(data["template_images"][0], list(data["search_images"].unbind(0)))
        anno, label = data["search_anno"], data[LABEL_KEY]
        # Frame-major flattening, so that the last (only) entry holds every frame's targets.
        flat = {"search_anno": anno.reshape(1, -1, 4), LABEL_KEY: label.reshape(1, -1, *label.shape[-2:])}
        return self.compute_losses(out, flat)
