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
