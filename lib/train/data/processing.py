"""Turn sampled frames into network inputs: jittered square crops, boxes in crop coordinates, padding masks,
optional centre heat maps.

One generic class covers the official variants through explicit arguments: the normalisation of boxes by the
output size or by output size - 1, the rejection of samples whose padding mask covers everything (also at the
backbone stride), instance masks, and a Gaussian heat map on the search crop's feature grid.

Per sample, for `template` then `search`:
1. joint transforms decide grey / mirrored once for all frames (mirroring flips the frame boxes, not pixels);
2. each box is jittered: size * exp(N(0,1) * scale_jitter), centre + (U(0,1) - 0.5) * sqrt(jittered area) *
   center_jitter; a crop side below one pixel rejects the sample;
3. the square crop (lib.utils.crop) and the box in crop coordinates, normalised (an optional second object is
   pasted into each search crop here, lib/train/data/paste.py);
4. per-crop transforms, rendered straight into the output array;
5. optional rejection when the padding mask is all True, or all True when sampled at the backbone stride.
Pixel work is done on crops only; frames are read, never copied.
"""
from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Mapping

import numpy as np
import torch

from lib.train.data.labels import gaussian_heatmap
from lib.train.data.paste import ObjectPaste
from lib.train.data.transforms import Compose, CropRecord, SampleAugment, mirror_box, render
from lib.utils.crop import box_in_crop, crop_origin, crop_resize, crop_side

if TYPE_CHECKING:
    from lib.train.data.sampler import ExtraObject

__all__ = ["TrackingProcessing", "PARTS", "NORMALISATIONS"]

PARTS = ("template", "search")
NORMALISATIONS = ("out", "out-1")
_PART_PREFIXES = tuple(f"{part}_" for part in PARTS)


def _per_part(name: str, value: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(value, Mapping) or set(value) != set(PARTS):
        raise ValueError(f"TrackingProcessing: '{name}' needs exactly the keys {list(PARTS)}, got {value!r}")
    return {part: value[part] for part in PARTS}


def _nearest_indices(size: int, out_size: int) -> np.ndarray:
    """Rows torch's 'nearest' interpolation picks when shrinking `size` to `out_size` (float32 scale, floor)."""
    scale = np.float32(size) / np.float32(out_size)
    idx = np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(idx, size - 1)


def _border_box(gt: tuple, factor: float, rng: random.Random) -> tuple:
    """A square box whose crop (side ceil(sqrt(w h) * factor)) has the target at a random one of its four borders."""
    _, _, w, h = gt
    side = math.ceil(math.sqrt(w * h) * factor)
    cx, cy = gt[0] + w / 2, gt[1] + h / 2
    x1, y1 = round(cx - side / 2), round(cy - side / 2)
    across = {"x": int(rng.uniform(w / 2 - side / 2, side / 2 - w / 2)),
              "y": int(rng.uniform(h / 2 - side / 2, side / 2 - h / 2))}
    edge = rng.random()
    if edge <= 0.5:  # top (the crop moves down) or left (it moves right)
        axis, sign = ("y", 1) if edge <= 0.25 else ("x", 1)
    else:  # right or bottom
        axis, sign = ("x", -1) if edge <= 0.75 else ("y", -1)
    extent = h if axis == "y" else w
    shift = sign * int(rng.uniform(side / 2 - extent / 4, side / 2 + extent / 4))
    other = "x" if axis == "y" else "y"
    dx, dy = (shift, across[other]) if axis == "x" else (across[other], shift)
    size = side / factor
    return x1 + side / 2 + dx - size / 2, y1 + side / 2 + dy - size / 2, size, size


class TrackingProcessing:
    """Crops, boxes and masks for template and search frames; see the module docstring.

    search_area_factor, output_sz, center_jitter_factor, scale_jitter_factor: {'template': .., 'search': ..}.
    transform: per-crop transforms {'template': Compose, 'search': Compose}.
    joint_transform: transforms rolled once per sample (Compose of ToGrayscale / RandomHorizontalFlip) or None.
    norm_by: 'out' divides crop boxes by the output size, 'out-1' by the output size - 1.
    reject_padding: reject a sample whose padding mask is all True, or all True sampled every
        `padding_check_stride` pixels (nearest), i.e. when the backbone would see no image at all.
    heatmap_stride: when > 0, also return 'search_label', a Gaussian centre heat map per search crop on the
        (size // stride)^2 grid, with CornerNet radius `heatmap_min_overlap`.
    with_masks: also return '<part>_masks' (N, S, S) float32 (zeros where the dataset has no instance mask).
    search_factor_range: (low, high) to draw the search-area factor per sample instead of the fixed one (MSTGT):
        U[low, high], then, unless the border placement applies, the jitter is redrawn (up to 21 tries) until the
        smallest factor that keeps every target centre inside its crop, clipped to >= low, is <= high, and the
        factor is drawn from U[that, high].
    border_prob: with this probability (and a search_factor_range) each search crop is shifted so that the
        target lies at one of the four crop borders (chosen at random, as the MSTGT release does).
    paste: how a sample's extra object ('search_extra', lib.train.data.sampler.ExtraObject: one frame and box
        per search frame) is pasted into its search crops, before the per-crop transforms; the target's box is
        unchanged. A sample with an extra object needs it; one without is processed as if it were None.
    """

    def __init__(self, search_area_factor: Mapping[str, float], output_sz: Mapping[str, int],
                 center_jitter_factor: Mapping[str, float], scale_jitter_factor: Mapping[str, float],
                 transform: Mapping[str, Compose], joint_transform: Compose | None = None, norm_by: str = "out",
                 reject_padding: bool = True, padding_check_stride: int = 16, heatmap_stride: int = 0,
                 heatmap_min_overlap: float = 0.7, with_masks: bool = False,
                 search_factor_range: tuple[float, float] | None = None, border_prob: float = 0.0,
                 paste: ObjectPaste | None = None):
        self.search_area_factor = _per_part("search_area_factor", search_area_factor)
        self.output_sz = {k: int(v) for k, v in _per_part("output_sz", output_sz).items()}
        self.center_jitter_factor = _per_part("center_jitter_factor", center_jitter_factor)
        self.scale_jitter_factor = _per_part("scale_jitter_factor", scale_jitter_factor)
        self.transform = _per_part("transform", transform)
        self.joint_transform = joint_transform
        if norm_by not in NORMALISATIONS:
            raise ValueError(f"TrackingProcessing: norm_by must be one of {list(NORMALISATIONS)}, got {norm_by!r}")
        self.norm_by = norm_by
        self.reject_padding = reject_padding
        self.heatmap_stride = int(heatmap_stride)
        self.heatmap_min_overlap = heatmap_min_overlap
        self.with_masks = with_masks
        if search_factor_range is not None and not 0 < search_factor_range[0] <= search_factor_range[1]:
            raise ValueError(f"TrackingProcessing: search_factor_range must be (low, high) with 0 < low <= high, "
                             f"got {search_factor_range}")
        self.search_factor_range = None if search_factor_range is None else tuple(map(float, search_factor_range))
        self.border_prob = float(border_prob)
        self.paste = paste
        for part, size in self.output_sz.items():
            if size < 2:
                raise ValueError(f"TrackingProcessing: output_sz['{part}'] must be at least 2, got {size}")
        if padding_check_stride < 1:
            raise ValueError(f"TrackingProcessing: padding_check_stride must be >= 1, got {padding_check_stride}")
        self._check_rows = {part: _nearest_indices(size, max(size // padding_check_stride, 1))
                            for part, size in self.output_sz.items()}
        if self.heatmap_stride and self.output_sz["search"] // self.heatmap_stride < 1:
            raise ValueError(f"TrackingProcessing: heatmap_stride {heatmap_stride} exceeds the search size "
                             f"{self.output_sz['search']}")

    def __call__(self, data: dict, rng: random.Random) -> dict:
        """`data`: '<part>_images' (HxWxC uint8 frames: RGB, then any auxiliary channels), '<part>_anno' (xywh
        boxes), optional '<part>_masks'; other keys pass through. Returns tensors for each part and 'valid'."""
        aug = SampleAugment()
        if self.joint_transform is not None:
            self.joint_transform(aug, rng)
        out = {k: v for k, v in data.items() if not k.startswith(_PART_PREFIXES)}
        extra = data.get("search_extra")
        if extra is not None and self.paste is None:
            raise ValueError("TrackingProcessing: the sample carries an extra object ('search_extra') but no paste "
                             "is configured")
        for part in PARTS:
            result = self._process_part(part, data[f"{part}_images"], data[f"{part}_anno"],
                                        data.get(f"{part}_masks"), aug, rng, extra if part == "search" else None)
            if result is None:
                return {"valid": False}
            out.update(result)
        if self.heatmap_stride:
            feat_sz = self.output_sz["search"] // self.heatmap_stride
            maps = [gaussian_heatmap(box, feat_sz, self.heatmap_min_overlap) for box in out["search_anno"].numpy()]
            out["search_label"] = torch.from_numpy(np.stack(maps))
        out["valid"] = True
        return out

    def _jitter(self, box: tuple, part: str, rng: random.Random) -> tuple:
        center_jitter, scale_jitter = self.center_jitter_factor[part], self.scale_jitter_factor[part]
        if center_jitter == 0 and scale_jitter == 0:
            return box
        x, y, w, h = box
        w_j = w * math.exp(rng.gauss(0.0, 1.0) * scale_jitter)
        h_j = h * math.exp(rng.gauss(0.0, 1.0) * scale_jitter)
        max_offset = math.sqrt(w_j * h_j) * center_jitter
        cx = x + 0.5 * w + max_offset * (rng.random() - 0.5)
        cy = y + 0.5 * h + max_offset * (rng.random() - 0.5)
        return cx - 0.5 * w_j, cy - 0.5 * h_j, w_j, h_j

    def _random_search_area(self, gts: list[tuple], rng: random.Random) -> tuple[list[tuple], float]:
        """Jittered search boxes and one search-area factor for the sample (see `search_factor_range`)."""
        low, high = self.search_factor_range
        factor = rng.uniform(low, high)
        if rng.random() < self.border_prob:
            return [_border_box(gt, factor, rng) for gt in gts], factor
        for _ in range(21):
            jittered = [self._jitter(gt, "search", rng) for gt in gts]
            shift = max(abs((j[i] + j[i + 2] / 2) - (g[i] + g[i + 2] / 2)) for j, g in zip(jittered, gts)
                        for i in (0, 1))
            # The release divides by the first frame's jittered size.
            min_factor = max(2 * shift / math.sqrt(jittered[0][2] * jittered[0][3]), low)
            if min_factor <= high:
                return jittered, rng.uniform(min_factor, high)
        return jittered, factor

    def _mostly_padding(self, att: np.ndarray, part: str) -> bool:
        if not att.any():
            return False
        if att.all():
            return True
        rows = self._check_rows[part]
        return bool(att[rows][:, rows].all())

    def _crop_boxes(self, part: str, frames: list, boxes: list, aug: SampleAugment,
                    rng: random.Random) -> list[tuple] | None:
        """(ground-truth box, jittered box, crop side) per frame, in the (maybe mirrored) frame; None if unusable."""
        gts = [tuple(float(v) for v in box) for box in boxes]
        if any(not (gt[2] > 0 and gt[3] > 0) for gt in gts):
            return None
        if aug.mirrored:
            gts = [mirror_box(gt, frame.shape[1]) for gt, frame in zip(gts, frames)]
        if part == "search" and self.search_factor_range is not None:
            jittered, factor = self._random_search_area(gts, rng)
        else:
            jittered, factor = [self._jitter(gt, part, rng) for gt in gts], self.search_area_factor[part]
        sides = [crop_side(box[2], box[3], factor) for box in jittered]
        if min(sides) < 1:
            return None
        return list(zip(gts, jittered, sides))

    def _crop(self, part: str, frame: np.ndarray, mask, gt: tuple, box: tuple, side: int, aug: SampleAugment,
              rng: random.Random, image_out: np.ndarray, extra: tuple | None = None) -> CropRecord:
        """Crop one frame around `box`, paste the `extra` (frame, box, generator) object if given, run the
        per-crop transforms and render the image into `image_out`; the returned record holds the final box, att
        mask and instance mask."""
        size = self.output_sz[part]
        norm = size if self.norm_by == "out" else size - 1
        x1, y1 = crop_origin(box, side)
        crop, att = crop_resize(frame, x1, y1, side, size, mirrored=aug.mirrored)
        mask_crop = None
        if self.with_masks and mask is not None:
            mask_crop = crop_resize(np.asarray(mask, np.float32), x1, y1, side, size, mirrored=aug.mirrored)[0]
        target = box_in_crop(gt, box, size / side, size)
        if extra is not None:
            extra_frame, extra_box, extra_rng = extra
            self.paste(crop, att, target, extra_frame, extra_box, aug.mirrored, extra_rng)
        crop_box = [v / norm for v in target]
        record = CropRecord(crop, crop_box, att, mask_crop, grayscale=aug.grayscale)
        self.transform[part](record, rng)
        record.att, record.mask = render(record, image_out)
        return record

    def _process_part(self, part: str, frames: list, boxes: list, masks: list | None, aug: SampleAugment,
                      rng: random.Random, extra: "ExtraObject | None" = None) -> dict | None:
        geometry = self._crop_boxes(part, frames, boxes, aug, rng)
        if geometry is None:
            return None
        n, size = len(frames), self.output_sz[part]
        channels = {frame.shape[2] for frame in frames}
        if len(channels) != 1:
            raise ValueError(f"{part} frames of one sample have different channel counts {sorted(channels)}")
        masks = masks if masks is not None else [None] * n
        images = np.empty((n, channels.pop(), size, size), np.float32)
        att = np.empty((n, size, size), bool)
        anno = np.empty((n, 4), np.float32)
        mask_out = np.zeros((n, size, size), np.float32) if self.with_masks else None
        for i, (frame, mask, (gt, box, side)) in enumerate(zip(frames, masks, geometry)):
            pasted = None if extra is None else (extra.frames[i], extra.boxes[i], extra.rng)
            record = self._crop(part, frame, mask, gt, box, side, aug, rng, images[i], pasted)
            if self.reject_padding and self._mostly_padding(record.att, part):
                return None
            att[i], anno[i] = record.att, record.bbox
            if mask_out is not None and record.mask is not None:
                mask_out[i] = record.mask
        result = {f"{part}_images": torch.from_numpy(images), f"{part}_anno": torch.from_numpy(anno),
                  f"{part}_att": torch.from_numpy(att)}
        if mask_out is not None:
            result[f"{part}_masks"] = torch.from_numpy(mask_out)
        return result
