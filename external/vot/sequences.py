"""Evaluation sequences written in the VOT toolkit's "default" sequence format, so a workspace runs offline.

    sequences/list.txt                      one sequence folder name per line
    sequences/<name>/sequence               key=value: channels.color=color/%08d.jpg, [channels.depth=...,]
                                            fps, length, width, height, format, name
    sequences/<name>/color/00000001.jpg ... the frames (JPEG files are copied, other sources re-encoded)
    sequences/<name>/depth/00000001.png     optional, 16-bit millimetres; ir/ optional, 8-bit
    sequences/<name>/groundtruth.txt        x,y,w,h per frame; nan,nan,nan,nan where the target is not visible
    sequences/<name>/occlusion.tag          1 where the target is not visible (full occlusion or out of view)
    sequences/<name>/anchor.value           multistart anchors: 1 forward, -1 backward, 0 elsewhere

The synthetic benchmark has no depth or thermal camera: `depth` and `ir` channels are made from each frame (depth:
the background far away, the ground-truth box near; ir: the frame's luminance), enough to run RGB-D / RGB-T stacks
and the server's extra channels end to end, not to measure multi-modal tracking.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterable, Sequence as Seq

import cv2
import numpy as np

from lib.synthetic.fileio import write_dir_atomic, write_image, write_text_atomic
from lib.test.evaluation.data import Sequence

EXTRA_CHANNELS = ("depth", "ir")
CHANNEL_PATTERNS = {"color": "color/%08d.jpg", "depth": "depth/%08d.png", "ir": "ir/%08d.jpg"}
DEFAULT_ANCHOR_SPACING = 50
FAR_MM, NEAR_MM = 4000, 1500
JPEG_QUALITY = 95


def visible_frames(seq: Sequence) -> np.ndarray:
    """True where the target is visible: the benchmark's flags when it has them, and a finite positive box.
    Frames past the ground truth (test splits publish the first box only) count as not visible."""
    gt = seq.ground_truth_rect
    valid = np.zeros(len(seq), bool)
    valid[:len(gt)] = np.isfinite(gt).all(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    if seq.target_visible is not None:
        valid[:len(seq.target_visible)] &= seq.target_visible
    return valid


def anchors(visible: np.ndarray, spacing: int) -> list[int]:
    """VOT multistart anchors: every `spacing` frames (moved to the next visible frame), forward in the first
    half of the sequence and backward in the second, so that every run has room to go."""
    values = [0] * len(visible)
    for start in range(0, len(visible), spacing):
        shown = np.flatnonzero(visible[start:start + spacing])
        if len(shown):
            frame = start + int(shown[0])
            values[frame] = 1 if frame < len(visible) / 2 else -1
    return values


def groundtruth_text(seq: Sequence, visible: np.ndarray) -> str:
    rows = [",".join(f"{v:.4f}" for v in seq.ground_truth_rect[i]) if shown else "nan,nan,nan,nan"
            for i, shown in enumerate(visible)]
    return "\n".join(rows) + "\n"


def synthetic_depth(shape: tuple[int, ...], box: Seq[float] | None) -> np.ndarray:
    """16-bit depth in millimetres: a far background sloping towards the camera at the bottom, the target near."""
    height, width = shape[:2]
    depth = np.repeat(np.linspace(FAR_MM, FAR_MM / 2, height, dtype=np.float64)[:, None], width, axis=1)
    if box is not None:
        x, y, w, h = (int(round(v)) for v in box)
        depth[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)] = NEAR_MM
    return depth.astype(np.uint16)


def synthetic_ir(image_rgb: np.ndarray) -> np.ndarray:
    """An 8-bit 'thermal' frame: the luminance, as three equal BGR planes."""
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    return cv2.merge([gray, gray, gray])


def _write_frames(seq: Sequence, folder: Path, channels: Seq[str], visible: np.ndarray) -> tuple[int, int]:
    """Write every channel's frames; returns the frame size (width, height)."""
    for channel in channels:
        (folder / channel).mkdir()
    size = None
    for index in range(len(seq)):
        name = f"{index + 1:08d}"
        source = seq.frames[index]
        image = None
        if isinstance(source, str) and source.lower().endswith((".jpg", ".jpeg")) and os.path.isfile(source):
            shutil.copyfile(source, folder / "color" / f"{name}.jpg")
        else:
            image = seq.read_frame(index)
            write_image(folder / "color" / f"{name}.jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), JPEG_QUALITY)
        if size is None or any(c in channels for c in EXTRA_CHANNELS):
            image = seq.read_frame(index) if image is None else image
            size = (image.shape[1], image.shape[0])
        if "depth" in channels:
            box = seq.ground_truth_rect[index] if visible[index] else None
            if not cv2.imwrite(str(folder / "depth" / f"{name}.png"), synthetic_depth(image.shape, box)):
                raise OSError(f"cannot write {folder / 'depth' / name}.png")
        if "ir" in channels:
            write_image(folder / "ir" / f"{name}.jpg", synthetic_ir(image), JPEG_QUALITY)
    return size


def write_sequence(seq: Sequence, folder: Path, channels: Seq[str] = ("color",),
                   anchor_spacing: int = DEFAULT_ANCHOR_SPACING) -> None:
    """Write `seq` as a VOT sequence folder (atomically: it appears complete or not at all)."""
    visible = visible_frames(seq)
    if not visible[0]:
        raise ValueError(f"sequence {seq.name}: the target is not visible in the first frame")

    def fill(tmp: Path) -> None:
        width, height = _write_frames(seq, tmp, channels, visible)
        meta = {f"channels.{c}": CHANNEL_PATTERNS[c] for c in channels}
        meta.update(format="default", fps="30", name=seq.name, length=str(len(seq)), width=str(width),
                    height=str(height))
        (tmp / "sequence").write_text("".join(f"{k}={v}\n" for k, v in meta.items()), encoding="utf-8")
        (tmp / "groundtruth.txt").write_text(groundtruth_text(seq, visible), encoding="utf-8")
        (tmp / "occlusion.tag").write_text("".join(f"{int(not v)}\n" for v in visible), encoding="utf-8")
        (tmp / "anchor.value").write_text("".join(f"{a}\n" for a in anchors(visible, anchor_spacing)),
                                          encoding="utf-8")

    write_dir_atomic(folder, fill)


def folder_name(name: str) -> str:
    """A sequence name usable as one folder name."""
    return name.replace(os.sep, "_").replace("/", "_")


def write_sequences(sequences: Iterable[Sequence], root: Path, channels: Seq[str] = ("color",),
                    anchor_spacing: int = DEFAULT_ANCHOR_SPACING) -> list[int]:
    """Write the sequences and `list.txt` under `root` (a workspace's sequences/); returns their lengths."""
    names, lengths = [], []
    for seq in sequences:
        name = folder_name(seq.name)
        write_sequence(seq, root / name, channels, anchor_spacing)
        names.append(name)
        lengths.append(len(seq))
    if not names:
        raise ValueError("no sequences to write")
    write_text_atomic(root / "list.txt", "".join(f"{n}\n" for n in names))
    return lengths
