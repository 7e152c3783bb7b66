"""Training augmentations with the official semantics, arranged so that no frame-sized pixel work is done.

Official order (kept): joint transforms with one roll per sample for all its template and search frames
(ToGrayscale p=0.05, RandomHorizontalFlip p=0.5), then the crops, then per-crop transforms with an independent
roll per crop (ToTensorAndJitter 0.2, RandomHorizontalFlip_Norm p=0.5, Normalize ImageNet mean/std);
validation uses ToTensor + Normalize after the same joint transforms.

What differs, and why the output distribution is the same:
- Joint transforms never touch pixels; they edit a `SampleAugment`. RandomHorizontalFlip mirrors the frame
  boxes (x -> W-1-x-w, as the official flip of pixel coordinates does) and marks the sample mirrored; processing
  then crops each frame *as if flipped* (lib.utils.crop.crop_resize(mirrored=True)), which yields exactly the
  official pixels, att mask and box, at the cost of flipping a small crop instead of every full frame.
  ToGrayscale marks the sample grey and each crop is converted after cropping: grey(resize(x)) instead of
  resize(grey(x)), equal up to +-1 of rounding.
- Per-crop transforms edit a `CropRecord`: boxes change at once, pixel work is recorded (pending flip, brightness,
  normalisation) and `render` applies it in one pass: uint8 -> float32 CHW through one 256-entry lookup table per
  channel, built with the float32 operations the official tensor transforms perform, so values are identical.
Every transform handles the image, the box, the padding (att) mask and the optional instance mask.

Frames may carry auxiliary channels after RGB (RGB-D / RGB-T / RGB-E: HxWx6). Geometry (crop, flips) and the
brightness jitter act on all channels alike; grey conversion acts on the RGB group only; Normalize takes one
mean/std per channel (RGB first, then the auxiliary group; see lib.config.defaults.input_normalisation).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

__all__ = ["SampleAugment", "CropRecord", "Compose", "ToGrayscale", "RandomHorizontalFlip", "ToTensor",
           "ToTensorAndJitter", "RandomHorizontalFlip_Norm", "Normalize", "mirror_box", "render"]

_F32 = np.float32


@dataclass
class SampleAugment:
    """Decisions of the joint transforms for one sample (all of its frames)."""

    grayscale: bool = False
    mirrored: bool = False


@dataclass
class CropRecord:
    """One crop on its way through the per-crop transforms; `render` turns it into arrays."""

    image: np.ndarray  # (H, W, C) uint8, RGB then auxiliary channels, as cropped
    bbox: Sequence[float]  # normalised xywh of the target in the crop
    att: np.ndarray  # (H, W) bool, True on padding
    mask: np.ndarray | None = None  # (H, W) float32 instance mask
    grayscale: bool = False
    flip: bool = False  # pending left-right flip of image, att and mask
    brightness: float | None = None  # None: ToTensor (x / 255); else ToTensorAndJitter (x * b / 255, clamped)
    mean: tuple[float, ...] | None = None  # per channel; None: no normalisation
    std: tuple[float, ...] | None = None


class Compose:
    """Apply transforms in order to a SampleAugment or a CropRecord, each with the sample's generator."""

    def __init__(self, *transforms: Callable):
        self.transforms = list(transforms)

    def __call__(self, target, rng: random.Random) -> None:
        for transform in self.transforms:
            transform(target, rng)

    def __repr__(self) -> str:
        return f"Compose({', '.join(map(repr, self.transforms))})"


class ToGrayscale:
    """Joint: with `probability`, every crop of the sample becomes grey (replicated to the 3 RGB channels;
    auxiliary channels stay as they are)."""

    def __init__(self, probability: float = 0.5):
        self.probability = probability

    def __call__(self, aug: SampleAugment, rng: random.Random) -> None:
        if rng.random() < self.probability:
            aug.grayscale = True

    def __repr__(self) -> str:
        return f"ToGrayscale({self.probability})"


class RandomHorizontalFlip:
    """Joint: with `probability`, all frames of the sample are used mirrored left-right."""

    def __init__(self, probability: float = 0.5):
        self.probability = probability

    def __call__(self, aug: SampleAugment, rng: random.Random) -> None:
        if rng.random() < self.probability:
            aug.mirrored = not aug.mirrored

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip({self.probability})"


def mirror_box(box_xywh: Sequence[float], frame_width: int) -> tuple[float, float, float, float]:
    """A frame box after a left-right flip of the frame: pixel column c goes to W-1-c."""
    x, y, w, h = box_xywh
    return frame_width - 1 - x - w, y, w, h


class ToTensor:
    """Per crop: uint8 -> float in [0, 1] (x / 255)."""

    def __call__(self, rec: CropRecord, rng: random.Random) -> None:
        rec.brightness = None

    def __repr__(self) -> str:
        return "ToTensor()"


class ToTensorAndJitter:
    """Per crop: uint8 -> float, times a brightness factor drawn from U(max(0, 1-j), 1+j), / 255, clamped to [0, 1]."""

    def __init__(self, brightness_jitter: float = 0.0):
        self.brightness_jitter = brightness_jitter

    def __call__(self, rec: CropRecord, rng: random.Random) -> None:
        low, high = max(0.0, 1.0 - self.brightness_jitter), 1.0 + self.brightness_jitter
        rec.brightness = float(rng.uniform(low, high))

    def __repr__(self) -> str:
        return f"ToTensorAndJitter({self.brightness_jitter})"


class RandomHorizontalFlip_Norm:  # noqa: N801 - the official name, kept for recognition
    """Per crop: with `probability`, flip the crop; the normalised box maps x -> 1 - x - w."""

    def __init__(self, probability: float = 0.5):
        self.probability = probability

    def __call__(self, rec: CropRecord, rng: random.Random) -> None:
        if rng.random() < self.probability:
            rec.flip = not rec.flip
            x, y, w, h = rec.bbox
            rec.bbox = (1.0 - x - w, y, w, h)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip_Norm({self.probability})"


class Normalize:
    """Per crop: (x - mean) / std per channel."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        if len(mean) < 3 or len(mean) != len(std):
            raise ValueError(f"Normalize needs 3 means and 3 stds (RGB), then one per auxiliary channel, as many "
                             f"means as stds; got {list(mean)} and {list(std)}")
        if any(s <= 0 for s in std):
            raise ValueError(f"Normalize: every std must be positive, got {list(std)}")
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def __call__(self, rec: CropRecord, rng: random.Random) -> None:
        rec.mean, rec.std = self.mean, self.std

    def __repr__(self) -> str:
        return f"Normalize(mean={list(self.mean)}, std={list(self.std)})"


def lookup_table(rec: CropRecord, channels: int = 3) -> np.ndarray:
    """(channels, 256) float32: the final value of each uint8 level per channel, in the official float32
    arithmetic."""
    levels = np.arange(256, dtype=_F32)
    if rec.brightness is None:
        values = levels / _F32(255.0)
    else:
        values = np.minimum(np.maximum(levels * _F32(rec.brightness / 255.0), _F32(0.0)), _F32(1.0))
    mean = np.asarray(rec.mean if rec.mean is not None else [0.0] * channels, _F32)[:, None]
    std = np.asarray(rec.std if rec.std is not None else [1.0] * channels, _F32)[:, None]
    if len(mean) != channels:
        raise ValueError(f"the crop has {channels} channels but Normalize gives {len(mean)} means and stds")
    return (values[None, :] - mean) / std


def _flip_if(array: np.ndarray | None, flip: bool) -> np.ndarray | None:
    if array is None or not flip:
        return array
    return np.ascontiguousarray(array[:, ::-1])


def render(rec: CropRecord, out: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Write the crop's final image into `out` ((C, H, W) float32, C-contiguous); return its (att, mask)."""
    image = cv2.flip(rec.image, 1) if rec.flip else rec.image
    planes = list(cv2.split(image))
    if rec.grayscale:
        rgb = image if image.shape[2] == 3 else np.ascontiguousarray(image[:, :, :3])
        planes[:3] = [cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)] * 3
    table = lookup_table(rec, len(planes))
    for channel, plane in enumerate(planes):
        result = cv2.LUT(plane, table[channel], dst=out[channel])
        if not np.shares_memory(result, out):  # cv2 allocated instead of writing in place
            out[channel] = result
    return _flip_if(rec.att, rec.flip), _flip_if(rec.mask, rec.flip)
