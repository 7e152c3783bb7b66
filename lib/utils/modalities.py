"""Multi-modal frames in the official on-disk conventions: RGB plus an auxiliary image, stacked to (H, W, 6) uint8.

numpy/cv2 only (no torch): the training and evaluation readers of RGB-D, RGB-T and RGB-E benchmarks share it.

* Depth (DepthTrack, VOT-RGBD): a 16-bit PNG in millimetres becomes the official 3-channel image: clipped at
  min(3 * median, 10000), min-max normalised to 0..255, JET colour map, kept in OpenCV's BGR order (as the
  official code feeds it) after the RGB channels.
* Thermal (LasHeR, RGBT234) and event (VisEvent) images: decoded like a colour frame (RGB order), as the official
  loaders do (BGR read, then converted to RGB).
* Visible/auxiliary pairing by the frame number in the file names. The official LasHeR lookup
  `glob('*{i}.jpg')[0]` can return `...11.jpg` for frame 1 (and glob order is unspecified), so frames get
  mismatched in time and between modalities; this matching cannot.
"""
from __future__ import annotations

import os
import re
from typing import Sequence

import cv2
import numpy as np

from lib.utils.image_io import ImageReadError, imread_rgb

__all__ = ["MAX_DEPTH", "depth_colormap", "decode_depth", "read_depth", "rgbd_frame", "stack_aux",
           "load_rgbd_pair", "load_rgb_aux_pair", "frame_index", "frames_by_index", "paired_frames"]

MAX_DEPTH = 10000
# the last run of digits of a file stem: 'i000' -> 000, '000011' -> 000011, RGBT234's '00012v' -> 00012
_INDEX = re.compile(r"(\d+)\D*$")


def depth_colormap(depth: np.ndarray, clip: bool = True) -> np.ndarray:
    """(H, W) raw depth (uint16) -> (H, W, 3) uint8 JET colour map in BGR order."""
    depth = depth.copy()
    if clip:
        limit = min(np.median(depth) * 3, MAX_DEPTH)
        depth[depth > limit] = limit  # cast to the depth dtype as the official assignment does
    scaled = cv2.normalize(depth, None, alpha=0, beta=255, norm_type=cv2.NORM_MINMAX)
    return cv2.applyColorMap(np.asarray(scaled, dtype=np.uint8), cv2.COLORMAP_JET)


def decode_depth(data: bytes, name: str) -> np.ndarray:
    """Encoded single-channel 16-bit PNG bytes -> (H, W) uint16; `name` (file or key) is used in errors."""
    depth = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if depth is None:
        raise ImageReadError(f"{name}: cannot decode depth image (unreadable or not an image)")
    if depth.ndim != 2 or depth.dtype != np.uint16:
        raise ImageReadError(f"{name}: a depth image must be single-channel 16-bit, got {depth.dtype} with shape "
                             f"{depth.shape}")
    return depth


def read_depth(path: str | os.PathLike) -> np.ndarray:
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            return decode_depth(f.read(), path)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: depth image not found") from None


def stack_aux(rgb: np.ndarray, aux: np.ndarray, where: str) -> np.ndarray:
    """RGB (H, W, 3) then the 3-channel auxiliary image -> (H, W, 6); the sizes must agree."""
    if rgb.shape[:2] != aux.shape[:2]:
        raise ImageReadError(f"{where}: the RGB frame is {rgb.shape[1]}x{rgb.shape[0]} but the auxiliary image is "
                             f"{aux.shape[1]}x{aux.shape[0]}")
    return np.concatenate([rgb, aux], axis=2)


def rgbd_frame(rgb: np.ndarray, depth: np.ndarray, clip: bool = True, where: str = "depth image") -> np.ndarray:
    """An RGB image and its raw depth -> (H, W, 6): RGB, then the BGR depth colour map."""
    return stack_aux(rgb, depth_colormap(depth, clip), where)


def load_rgbd_pair(ref: tuple[str, str]) -> np.ndarray:
    """(colour file, depth file) -> (H, W, 6): an evaluation Sequence's `frame_loader` for RGB-D benchmarks."""
    return rgbd_frame(imread_rgb(ref[0]), read_depth(ref[1]), where=ref[1])


def load_rgb_aux_pair(ref: tuple[str, str]) -> np.ndarray:
    """(RGB file, thermal or event file) -> (H, W, 6): the `frame_loader` for RGB-T and RGB-E benchmarks."""
    return stack_aux(imread_rgb(ref[0]), imread_rgb(ref[1]), ref[1])


def frame_index(name: str) -> int:
    """The frame number at the end of a file name's stem ('i000.jpg' -> 0, '000011.jpg' -> 11, '00012v.jpg' -> 12)."""
    match = _INDEX.search(os.path.splitext(os.path.basename(name))[0])
    if match is None:
        raise ValueError(f"frame file '{name}' has no frame number at the end of its name")
    return int(match.group(1))


def frames_by_index(names: Sequence[str]) -> list[str]:
    """Frame files in frame-number order; two files with the same number are an error."""
    indexed: dict[int, str] = {}
    for name in names:
        index = frame_index(name)
        if index in indexed:
            raise ValueError(f"frames '{indexed[index]}' and '{name}' have the same number {index}")
        indexed[index] = name
    return [indexed[i] for i in sorted(indexed)]


def paired_frames(visible: Sequence[str], aux: Sequence[str]) -> list[tuple[str, str]]:
    """(visible, auxiliary) file pairs with the same frame number, in frame order."""
    vis, other = frames_by_index(visible), frames_by_index(aux)
    if [frame_index(n) for n in vis] != [frame_index(n) for n in other]:
        raise ValueError(f"visible ({len(vis)}) and auxiliary ({len(other)}) frames do not have the same numbers")
    return list(zip(vis, other))
