"""SDSTrack at test time: OSTrack's tracking step on 6-channel frames (official `lib/test/tracker/sdstrack.py`),
plus the per-frame confidence the official tracker reports to VOT (the peak of the Hann-weighted score map) and
TEST.MISSING_MODALITY, which blanks one stream's input channels (the paper's modality-absence experiment)."""
from __future__ import annotations

import numpy as np
import torch

from lib.config.node import ConfigError
from lib.families.ostrack.tracker import OSTrackTracker
from lib.test.tracker.base import Crop

# TEST.MISSING_MODALITY -> the frame channels set to 0 (a black RGB image or an empty auxiliary image)
BLANKED_CHANNELS = {"none": None, "rgb": slice(0, 3), "aux": slice(3, None)}


def blanked_channels(setting: str) -> slice | None:
    if setting not in BLANKED_CHANNELS:
        raise ConfigError(f"TEST.MISSING_MODALITY = {setting!r}; valid: none, rgb, aux")
    return BLANKED_CHANNELS[setting]


class SDSTrackTracker(OSTrackTracker):
    # saved per frame by the runner (<seq>_outputs.txt): the long-term protocol (DepthTrack, VOT-RGBD) thresholds it
    recorded_outputs = ("confidence",)

    def __init__(self, params, net=None):
        super().__init__(params, net)
        self.blanked = blanked_channels(params.cfg.TEST.MISSING_MODALITY)

    def crop(self, image: np.ndarray, box: list[float], factor: float, size: int) -> Crop:
        if self.blanked is not None:
            image = image.copy()
            image[..., self.blanked] = 0
        return super().crop(image, box, factor, size)

    def decode_box(self, out: dict, search: Crop) -> tuple[torch.Tensor, dict]:
        box, extras = super().decode_box(out, search)
        confidence = (self.window * out["score_map"]).flatten(1).max(dim=1).values.mean()
        return box, {**extras, "confidence": float(confidence)}
