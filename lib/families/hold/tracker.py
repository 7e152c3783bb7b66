"""The 'hold the first box' baseline: the floor every real tracker must beat."""
from __future__ import annotations

import numpy as np

from lib.test.parameter import TrackerParams
from lib.test.tracker.base import BaseTracker


class HoldTracker(BaseTracker):
    def __init__(self, params: TrackerParams):
        if params.config_name != "default":
            raise ValueError(f"tracker 'hold' has one config, 'default'; got '{params.config_name}'")
        super().__init__(params)
        self.box: list[float] = []

    def initialize(self, image: np.ndarray, info: dict) -> None:
        self.box = [float(v) for v in info["init_bbox"]]

    def track(self, image: np.ndarray, info: dict | None = None) -> dict:
        return {"target_bbox": list(self.box)}
