"""Auxiliary-modality frames in the official on-disk conventions (pure functions; the dataset readers build on
them).

* DepthTrack / VOT-RGBD: a 16-bit depth PNG becomes the official 3-channel image: clipped at
  min(3 * median, 10000), min-max normalised to 0..255, JET colour map, kept in OpenCV's BGR order (as the
  official code feeds it) after the RGB channels.
* LasHeR: visible and infrared frames are paired by the frame index in their names. The official lookup
  `glob('*{i}.jpg')[0]` can return `...11.jpg` for frame 1 (and glob order is unspecified), so frames get
  mismatched in time and between modalities; this matching cannot.
"""
from __future__ import annotations

import os
import re

import cv2
import numpy as np

MAX_DEPTH = 10000
_INDEX = re.compile(r"(\d+)$")


def depth_colormap(depth: np.ndarray, clip: bool = True) -> np.ndarray:
    """(H, W) raw depth (uint16) -> (H, W, 3) uint8 JET colour map in BGR order."""
    depth = depth.copy()
    if clip:
        limit = min(np.median(depth) * 3, MAX_DEPTH)
        depth[depth > limit] = limit  # cast to the depth dtype as the official assignment does
    scaled = cv2.normalize(depth, None, alpha=0, beta=255, norm_type=cv2.NORM_MINMAX)
    return cv2.applyColorMap(np.asarray(scaled, dtype=np.uint8), cv2.COLORMAP_JET)


def rgbd_frame(color_bgr: np.ndarray, depth: np.ndarray, clip: bool = True) -> np.ndarray:
    """An OpenCV colour image (BGR) and its raw depth -> (H, W, 6): RGB, then the BGR depth colour map."""
    return np.concatenate([cv2.cvtColor(color_bgr, cv2.COLOR_BGR2RGB), depth_colormap(depth, clip)], axis=2)


def frame_index(name: str) -> int:
    """The frame number at the end of a file name's stem ('i000.jpg' -> 0, '000011.jpg' -> 11)."""
    match = _INDEX.search(os.path.splitext(os.path.basename(name))[0])
    if match is None:
        raise ValueError(f"frame file '{name}' has no frame number at the end of its name")
    return int(match.group(1))


def frames_by_index(names: list[str]) -> list[str]:
    """Frame files in frame-number order; two files with the same number are an error."""
    indexed: dict[int, str] = {}
    for name in names:
        index = frame_index(name)
        if index in indexed:
            raise ValueError(f"frames '{indexed[index]}' and '{name}' have the same number {index}")
        indexed[index] = name
    return [indexed[i] for i in sorted(indexed)]


def paired_frames(visible: list[str], infrared: list[str]) -> list[tuple[str, str]]:
    """(visible, infrared) file pairs with the same frame number, in frame order."""
    vis, ir = frames_by_index(visible), frames_by_index(infrared)
    if [frame_index(n) for n in vis] != [frame_index(n) for n in ir]:
        raise ValueError(f"visible ({len(vis)}) and infrared ({len(ir)}) frames do not have the same numbers")
    return list(zip(vis, ir))
