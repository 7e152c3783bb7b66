"""Atomic writing for the generator: whole sequence folders and single files appear complete or not at all."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from lib.utils.io import FileWriteError, atomic_dir, atomic_write_text

__all__ = ["write_text_atomic", "write_dir_atomic", "write_image", "is_complete"]


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file next to `path`, then rename it over `path` (FileWriteError on failure)."""
    atomic_write_text(str(path), text)


def write_dir_atomic(final: Path, fill: Callable[[Path], None]) -> None:
    """Let `fill` populate a temporary sibling folder, then rename it to `final` (replacing an older one)."""
    with atomic_dir(str(final)) as tmp:
        fill(Path(tmp))


def write_image(path: Path, image_bgr: np.ndarray, quality: int) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if path.suffix.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(str(path), image_bgr, params):
        free = shutil.disk_usage(path.parent).free
        raise FileWriteError(f"cannot write image {path} (OpenCV's imwrite failed, {free / 2**20:.1f} MiB free on "
                             f"that disk); free some space there or choose another folder")


def is_complete(expected_texts: dict[Path, str], required: list[Path]) -> bool:
    """True when every text file holds exactly the expected content and every required path exists."""
    for path, text in expected_texts.items():
        try:
            if path.read_text(encoding="utf-8") != text:
                return False
        except (OSError, UnicodeDecodeError):
            return False
    return all(p.exists() for p in required)
