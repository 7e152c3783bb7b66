"""Square crops around a box, and the box mappings into and out of them (training and test time share them).

The geometry is the official trackers' own, so crops match theirs pixel for pixel:
- side = ceil(sqrt(w * h) * factor); top-left = round(centre - side / 2), Python rounding (half to even);
- pixels outside the frame are zero. The official padding arithmetic adds one to the right and bottom pads, so
  the frame's last column and last row never appear in a crop (they read as padding); that is kept, hence the
  "usable" region [0, W-1) x [0, H-1) below;
- the square is resized to `output_sz` with cv2's bilinear resize;
- `att_mask` is True on every output pixel whose bilinear taps touch padding (the official code resizes a 0/1
  float mask and casts it to bool).
Unlike the official code, nothing frame-sized is ever built: a window inside the frame is resized straight from a
view of it, and a window that leaves the frame copies only its inside part into a zeroed square. The padding mask
is separable, so it is resized as one row and one column instead of a full square.

`mirrored=True` crops the frame as if it had been flipped left-right first, without flipping it: the training
pipeline's joint horizontal flip becomes a flip of each small crop (see lib/train/data/transforms.py).
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

__all__ = ["crop_side", "crop_origin", "crop_resize", "sample_target", "box_in_crop", "transform_image_to_crop",
           "map_box_back", "clip_box"]


def crop_side(w: float, h: float, factor: float) -> int:
    """Side of the square crop for a w x h box: ceil(sqrt(w*h) * factor); 0 or less means the box is unusable."""
    area = w * h
    if not area > 0 or not math.isfinite(area):
        return 0
    return math.ceil(math.sqrt(area) * factor)


def crop_origin(box_xywh: Sequence[float], side: int) -> tuple[int, int]:
    """Top-left pixel of the `side` square centred on the box (official rounding: round(x + w/2 - side/2))."""
    x, y, w, h = (float(v) for v in box_xywh)
    return round(x + 0.5 * w - side * 0.5), round(y + 0.5 * h - side * 0.5)


def _padding_profile(start: int, side: int, usable: int, output_sz: int) -> np.ndarray | None:
    """Which of `output_sz` resized positions draw on padding, for a 1-D window [start, start+side) over
    [0, usable); None when the window lies inside."""
    lo, hi = max(0, -start), min(side, usable - start)
    if lo == 0 and hi == side:
        return None
    # Two identical rows: cv2 resizes a single row through another path whose weights can differ in the last
    # bits (an exactly-zero weight instead of 1e-15), which flips the != 0 test of the official 2-D mask.
    pad = np.ones((2, side), np.float64)
    if hi > lo:
        pad[:, lo:hi] = 0.0
    return cv2.resize(pad, (output_sz, 2), interpolation=cv2.INTER_LINEAR)[0] != 0


def _window(image: np.ndarray, x1: int, y1: int, side: int, mirrored: bool) -> tuple[np.ndarray | None, int, int]:
    """The part of the window inside the usable region, in view orientation, and where it sits in the square."""
    height, width = image.shape[:2]
    usable_w, usable_h = width - 1, height - 1
    xa, xb = max(x1, 0), min(x1 + side, usable_w)
    ya, yb = max(y1, 0), min(y1 + side, usable_h)
    if xb <= xa or yb <= ya:
        return None, 0, 0
    if mirrored:
        # View column v is frame column W-1-v.
        part = cv2.flip(image[ya:yb, width - xb:width - xa], 1)
    else:
        part = image[ya:yb, xa:xb]
    return part, xa - x1, ya - y1


def crop_resize(image: np.ndarray, x1: int, y1: int, side: int, output_sz: int,
                mirrored: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The side x side window at (x1, y1) of `image` (of its left-right mirror when `mirrored`, in the mirror's
    coordinates), zero outside the usable frame, resized to output_sz. Returns (crop, att_mask bool)."""
    if side < 1:
        raise ValueError(f"crop side must be at least 1 pixel, got {side}")
    height, width = image.shape[:2]
    size = (output_sz, output_sz)
    part, px, py = _window(image, x1, y1, side, mirrored)
    inside = part is not None and part.shape[0] == side and part.shape[1] == side
    if inside:
        crop = cv2.resize(part, size, interpolation=cv2.INTER_LINEAR)
    else:
        square = np.zeros((side, side) + image.shape[2:], image.dtype)
        if part is not None:
            square[py:py + part.shape[0], px:px + part.shape[1]] = part
        crop = cv2.resize(square, size, interpolation=cv2.INTER_LINEAR)
    if crop.ndim < image.ndim:  # cv2 drops a trailing channel axis of length 1
        crop = crop.reshape(crop.shape + (1,))
    att = np.zeros(size, bool)
    if not inside:
        cols = _padding_profile(x1, side, width - 1, output_sz)
        rows = _padding_profile(y1, side, height - 1, output_sz)
        if cols is not None:
            att |= cols[None, :]
        if rows is not None:
            att |= rows[:, None]
    return crop, att


def sample_target(image: np.ndarray, target_bb_xywh: Sequence[float], search_area_factor: float, output_sz: int,
                  mask: np.ndarray | None = None):
    """Crop a square of `search_area_factor` times the box's size around the box and resize it to output_sz.

    Returns (crop HxWx3 uint8, resize_factor = output_sz / side, att_mask bool, True on padding), plus the
    float32 crop of `mask` (bilinear, zero outside) when a mask is given.
    """
    w, h = float(target_bb_xywh[2]), float(target_bb_xywh[3])
    side = crop_side(w, h, search_area_factor)
    if side < 1:
        raise ValueError(f"box {list(target_bb_xywh)} is too small to crop (side {side} px)")
    x1, y1 = crop_origin(target_bb_xywh, side)
    crop, att = crop_resize(image, x1, y1, side, output_sz)
    resize_factor = output_sz / side
    if mask is None:
        return crop, resize_factor, att
    mask_crop, _ = crop_resize(np.asarray(mask, np.float32), x1, y1, side, output_sz)
    return crop, resize_factor, att, mask_crop


def box_in_crop(box_in: Sequence[float], box_extract: Sequence[float], resize_factor: float,
                crop_sz: int) -> tuple[float, float, float, float]:
    """`transform_image_to_crop` in crop pixels, on plain floats (the per-sample hot path)."""
    x, y, w, h = box_in
    ex, ey, ew, eh = box_extract
    half = (crop_sz - 1) / 2
    cx = half + ((x + 0.5 * w) - (ex + 0.5 * ew)) * resize_factor
    cy = half + ((y + 0.5 * h) - (ey + 0.5 * eh)) * resize_factor
    w_out, h_out = w * resize_factor, h * resize_factor
    return cx - 0.5 * w_out, cy - 0.5 * h_out, w_out, h_out


def transform_image_to_crop(box_in: Sequence[float], box_extract: Sequence[float], resize_factor: float,
                            crop_sz: int, normalize: bool = True) -> np.ndarray:
    """Box `box_in` (frame xywh) in the coordinates of the crop taken around `box_extract`.

    centre = (crop_sz - 1) / 2 + (centre_in - centre_extract) * resize_factor, size = wh * resize_factor;
    divided by crop_sz when `normalize`.
    """
    box = np.array(box_in_crop([float(v) for v in box_in], [float(v) for v in box_extract], resize_factor,
                               crop_sz), np.float64)
    return box / crop_sz if normalize else box


def map_box_back(pred_box_cxcywh: Sequence[float], prev_state_xywh: Sequence[float], resize_factor: float,
                 crop_size: int) -> list[float]:
    """A box predicted in crop pixels (cx, cy, w, h; 0..crop_size) mapped to frame xywh.

    The crop was taken around the previous state's centre, so the crop centre sits at the previous centre.
    """
    cx_prev = prev_state_xywh[0] + 0.5 * prev_state_xywh[2]
    cy_prev = prev_state_xywh[1] + 0.5 * prev_state_xywh[3]
    cx, cy, w, h = (v / resize_factor for v in pred_box_cxcywh)
    half_side = 0.5 * crop_size / resize_factor
    cx_real = cx + (cx_prev - half_side)
    cy_real = cy + (cy_prev - half_side)
    return [cx_real - 0.5 * w, cy_real - 0.5 * h, w, h]


def clip_box(box_xywh: Sequence[float], H: int, W: int, margin: int = 0) -> list[float]:
    """Clip a box to the frame, keeping at least `margin` pixels of it inside and a size of at least `margin`."""
    x1, y1, w, h = box_xywh
    x2, y2 = x1 + w, y1 + h
    x1 = min(max(0, x1), W - margin)
    x2 = min(max(margin, x2), W)
    y1 = min(max(0, y1), H - margin)
    y2 = min(max(margin, y2), H)
    return [x1, y1, max(margin, x2 - x1), max(margin, y2 - y1)]
