"""Paste a second object (a distractor from another sequence) into a search crop, next to the target and covering at
most a given fraction of it; the target's box is unchanged.

The geometry is that of `crop_obj_by_box` in the MSTGT release (capf-2011/MSTGT, lib/train/data/processing_imix.py,
defined there but never called): the object is cut from its own frame by its box (clipped to the frame) and resized,
keeping its aspect ratio, to the target's area in the crop times U(scale); its top-left corner is drawn uniformly
within `center_range` target sizes of the target's top-left and inside the crop's image (non-padding) area; a
placement that covers more than `max_occlusion` of the target's visible box is redrawn (10 times), then redrawn
while shrinking the object by 0.9 per try (5 times), then the paste is dropped.

`behind_prob`: with this probability the roles of occluder and occluded swap: the pasted object goes behind the
target (the target box's pixels stay the target's), the overlap limit still applies.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

__all__ = ["ObjectPaste", "occlusion", "content_box"]

Corners = tuple[int, int, int, int]  # x1, y1, x2, y2 in crop pixels, exclusive ends
SAME_SIZE_TRIES = 10  # official: redraw the position 10 times at the drawn size,
SHRINK_TRIES = 5  # then 5 more times, shrinking the object by SHRINK each time, then give up
SHRINK = 0.9


def occlusion(target: Sequence[float], other: Sequence[float]) -> float:
    """Fraction of box `target` (x1, y1, x2, y2, of positive area) that box `other` covers. The release adds 1e-8
    to both terms, which makes a limit of 0 unreachable; without it, 0 means "next to the target, never on it"."""
    inter_w = max(min(target[2], other[2]) - max(target[0], other[0]), 0.0)
    inter_h = max(min(target[3], other[3]) - max(target[1], other[1]), 0.0)
    return inter_w * inter_h / ((target[2] - target[0]) * (target[3] - target[1]))


def content_box(att: np.ndarray) -> Corners | None:
    """The crop's image area (att False; padding is a band along the borders), or None when it is all padding."""
    cols = np.flatnonzero(~att.all(axis=0))
    rows = np.flatnonzero(~att.all(axis=1))
    if cols.size == 0 or rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _object_patch(frame: np.ndarray, box: Sequence[float]) -> np.ndarray | None:
    """The object's pixels: its box clipped to the frame (official rounding), None when under one pixel."""
    x, y, w, h = (float(v) for v in box)
    height, width = frame.shape[:2]
    x2, y2 = min(x + w, width), min(y + h, height)
    x, y = max(0.0, x), max(0.0, y)
    w, h = x2 - x, y2 - y
    if w < 1 or h < 1:
        return None
    x, y = int(x), int(y)
    return frame[y:y + math.ceil(h), x:x + math.ceil(w)]


@dataclass(frozen=True)
class ObjectPaste:
    """See the module docstring. Defaults of scale and center_range are the release's (constructor defaults there,
    not config keys)."""

    max_occlusion: float = 0.5
    behind_prob: float = 0.0
    scale: tuple[float, float] = (0.7, 2.0)
    center_range: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_occlusion <= 1.0:
            raise ValueError(f"ObjectPaste: max_occlusion must be in [0, 1], got {self.max_occlusion}")
        if not 0.0 <= self.behind_prob <= 1.0:
            raise ValueError(f"ObjectPaste: behind_prob must be in [0, 1], got {self.behind_prob}")
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"ObjectPaste: scale must be (low, high) with 0 < low <= high, got {self.scale}")

    def _place(self, target: Sequence[float], w: int, h: int, content: Corners, rng: random.Random) -> Corners:
        """Official `select_pos_center`: a top-left near the target's, inside the image area; ends clipped to it."""
        corner = []
        for axis in (0, 1):
            size = (w, h)[axis]
            low = max(content[axis], target[axis] - self.center_range * target[axis + 2])
            high = max(low, min(target[axis] + (self.center_range + 1) * target[axis + 2], content[axis + 2] - size))
            corner.append(round(rng.uniform(low, high)))
        x1, y1 = corner
        return x1, y1, round(min(content[2], x1 + w)), round(min(content[3], y1 + h))

    def __call__(self, crop: np.ndarray, att: np.ndarray, target: Sequence[float], frame: np.ndarray,
                 box: Sequence[float], mirrored: bool, rng: random.Random) -> Corners | None:
        """Paste the object at `box` of `frame` into `crop` (H, W, C uint8, edited in place) whose padding mask is
        `att` and whose target is `target` (x, y, w, h in crop pixels). `mirrored`: the crop is a left-right mirror,
        so is the object. Returns the pasted region, or None when nothing was pasted."""
        if frame.shape[2] != crop.shape[2]:
            raise ValueError(f"ObjectPaste: the object's frame has {frame.shape[2]} channels, the crop "
                             f"{crop.shape[2]}")
        patch, content = _object_patch(frame, box), content_box(att)
        if patch is None or content is None:
            return None
        tx, ty, tw, th = target
        visible = (max(content[0], tx), max(content[1], ty), min(content[2], tx + tw), min(content[3], ty + th))
        if visible[2] <= visible[0] or visible[3] <= visible[1]:
            return None
        behind = rng.random() < self.behind_prob
        area = tw * th * rng.uniform(*self.scale)
        h_new = math.sqrt(area * patch.shape[0] / patch.shape[1])
        w_new, h_new = math.ceil(patch.shape[1] * h_new / patch.shape[0]), math.ceil(h_new)
        for attempt in range(1 + SAME_SIZE_TRIES + SHRINK_TRIES):
            if attempt > SAME_SIZE_TRIES:
                w_new, h_new = math.ceil(w_new * SHRINK), math.ceil(h_new * SHRINK)
            region = self._place(target, w_new, h_new, content, rng)
            if occlusion(visible, region) <= self.max_occlusion:
                break
        else:
            return None
        x1, y1, x2, y2 = region
        if x2 <= x1 or y2 <= y1:
            return None
        obj = cv2.resize(np.ascontiguousarray(patch), (w_new, h_new), interpolation=cv2.INTER_LINEAR)
        if obj.ndim < crop.ndim:  # cv2 drops a trailing channel axis of length 1
            obj = obj.reshape(obj.shape + (1,))
        if mirrored:
            obj = obj[:, ::-1]
        obj = obj[:y2 - y1, :x2 - x1]
        if behind:
            keep = np.zeros(obj.shape[:2], bool)  # the target's pixels inside the pasted region
            keep[max(math.floor(ty) - y1, 0):max(math.ceil(ty + th) - y1, 0),
                 max(math.floor(tx) - x1, 0):max(math.ceil(tx + tw) - x1, 0)] = True
            obj = np.where(keep[..., None], crop[y1:y2, x1:x2], obj)
        crop[y1:y2, x1:x2] = obj
        return region
