"""Helpers for the hand-written miniature datasets of the data tests (independent of lib.synthetic)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import cv2
import numpy as np


def gray_level(index: int) -> int:
    """The uniform grey value of hand-written frame `index` (distinct and robust to JPEG rounding)."""
    return 20 + 30 * (index % 8)


def write_frame(path: Path, index: int, size: tuple[int, int] = (16, 12)) -> None:
    """A tiny uniform JPEG/PNG whose grey level encodes `index`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    assert cv2.imwrite(str(path), np.full((height, width, 3), gray_level(index), np.uint8))


def write_frames(folder: Path, names: Iterable[str]) -> None:
    for i, name in enumerate(names):
        write_frame(folder / name, i)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def frame_level(image: np.ndarray) -> int:
    """Which grey level (hence which hand-written frame index modulo 8) an image holds."""
    return int(round((float(image.mean()) - 20) / 30)) % 8


def isolated_settings(data_dir: Path):
    """EnvSettings with the folder convention under `data_dir` only (no local.py files, no environment)."""
    from lib.utils.env import env_settings
    return env_settings(data_dir=str(data_dir), environ={}, local_loader=lambda: {})


# ------------------------------------------------------------------ multi-modal sequences (RGB-D, RGB-T, RGB-E)
MM_SIZE = (16, 12)  # width, height of the hand-written multi-modal frames
AUX_LEVEL_OFFSET = 4  # auxiliary frame k has the grey level of frame k + 4, so it differs from its RGB frame


def depth_ramp(index: int) -> np.ndarray:
    """A 16-bit depth map that differs per frame: a horizontal ramp starting at 1000 + 100 * index mm."""
    row = 1000 + 100 * index + 37 * np.arange(MM_SIZE[0])
    return np.repeat(row[None, :], MM_SIZE[1], axis=0).astype(np.uint16)


def write_rgbd_sequence(seq: Path, gt: str, frames: int = 3) -> None:
    """color/%08d.jpg + depth/%08d.png from 1 (depth_ramp) and groundtruth.txt."""
    (seq / "depth").mkdir(parents=True, exist_ok=True)
    for k in range(frames):
        write_frame(seq / "color" / f"{k + 1:08d}.jpg", k, MM_SIZE)
        assert cv2.imwrite(str(seq / "depth" / f"{k + 1:08d}.png"), depth_ramp(k))
    write_text(seq / "groundtruth.txt", gt)


def write_rgbt_sequence(seq: Path, gt: str, ir_gt: str | None, rgb_names: list[str], ir_names: list[str]) -> None:
    """visible/ + infrared/ frames (the given names, in frame order), visible.txt (+ infrared.txt), init.txt."""
    for k, (rgb, ir) in enumerate(zip(rgb_names, ir_names)):
        write_frame(seq / "visible" / rgb, k, MM_SIZE)
        write_frame(seq / "infrared" / ir, k + AUX_LEVEL_OFFSET, MM_SIZE)
    write_text(seq / "visible.txt", gt)
    if ir_gt is not None:
        write_text(seq / "infrared.txt", ir_gt)
    write_text(seq / "init.txt", gt.splitlines()[0] + "\n")


def write_rgbe_sequence(seq: Path, gt: str, flags: str, names: list[str]) -> None:
    """vis_imgs/ + event_imgs/ BMPs with the same names, groundtruth.txt, absent_label.txt."""
    for k, name in enumerate(names):
        write_frame(seq / "vis_imgs" / name, k, MM_SIZE)
        write_frame(seq / "event_imgs" / name, k + AUX_LEVEL_OFFSET, MM_SIZE)
    write_text(seq / "groundtruth.txt", gt)
    write_text(seq / "absent_label.txt", flags)
