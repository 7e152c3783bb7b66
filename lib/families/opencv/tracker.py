"""OpenCV tracker adapter: RGB frames in, [x, y, w, h] floats out, the previous box kept when OpenCV loses it."""
from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from lib.families import UnknownNameError
from lib.test.parameter import TrackerParams
from lib.test.tracker.base import BaseTracker

# Algorithms that need no model files, by config name -> factory names tried in order (the contrib
# build keeps some under cv2.legacy). DaSiamRPN/Nano/Vit need ONNX weights and are not offered.
_FACTORIES = {
    "mil": ("TrackerMIL_create",),
    "kcf": ("TrackerKCF_create", "legacy.TrackerKCF_create"),
    "csrt": ("TrackerCSRT_create", "legacy.TrackerCSRT_create"),
    "boosting": ("legacy.TrackerBoosting_create",),
    "medianflow": ("legacy.TrackerMedianFlow_create",),
    "mosse": ("legacy.TrackerMOSSE_create",),
    "tld": ("legacy.TrackerTLD_create",),
}


def _lookup(dotted: str) -> Callable[[], Any] | None:
    obj: Any = cv2
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def available_algorithms() -> dict[str, Callable[[], Any]]:
    """Config name -> factory, for the algorithms this OpenCV build provides."""
    found = {}
    for name, candidates in _FACTORIES.items():
        factory = next((f for f in map(_lookup, candidates) if f is not None), None)
        if factory is not None:
            found[name] = factory
    return found


class OpenCVTracker(BaseTracker):
    def __init__(self, params: TrackerParams):
        super().__init__(params)
        algorithms = available_algorithms()
        name = params.config_name.lower()
        if name not in algorithms:
            raise UnknownNameError(f"test.py opencv {params.config_name}: OpenCV {cv2.__version__} has no tracker "
                                   f"'{params.config_name}'; available here: {', '.join(sorted(algorithms))} "
                                   f"(KCF, CSRT and the others need opencv-contrib-python-headless, which "
                                   f"requirements.txt installs)")
        self._factory = algorithms[name]
        self._tracker = None
        self.box: list[float] = []

    def initialize(self, image: np.ndarray, info: dict) -> None:
        self.box = [float(v) for v in info["init_bbox"]]
        self._tracker = self._factory()
        self._tracker.init(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), _int_rect(self.box, image.shape))

    def track(self, image: np.ndarray, info: dict | None = None) -> dict:
        ok, rect = self._tracker.update(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if ok:
            self.box = [float(v) for v in rect]
        return {"target_bbox": list(self.box)}


def _int_rect(box: list[float], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """OpenCV wants an integer rectangle of at least 1x1 pixel inside the frame."""
    height, width = shape[:2]
    x = min(max(int(round(box[0])), 0), width - 1)
    y = min(max(int(round(box[1])), 0), height - 1)
    w = min(max(int(round(box[2])), 1), width - x)
    h = min(max(int(round(box[3])), 1), height - y)
    return x, y, w, h
