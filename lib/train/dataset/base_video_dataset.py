"""Common part of the training readers (the pytracking BaseVideoDataset interface).

Annotations of a sequence are parsed once, on first use, and kept as tensors; `get_sequence_info` and
`get_frames` then only index cached tensors and decode the requested images.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from lib.utils.file_source import DirSource, FileSource, LmdbSource
from lib.utils.image_io import imread_rgb

__all__ = ["BaseVideoDataset", "as_source", "empty_meta", "missing_sequences_error", "visibility_tensors"]

_META_KEYS = ("object_class_name", "motion_class", "major_class", "root_class", "motion_adverb")


def as_source(root: str | os.PathLike | FileSource, use_lmdb: bool = False,
              image_loader: Callable[[str], np.ndarray] = imread_rgb) -> FileSource:
    """A FileSource for `root`: given as is, an LMDB folder when `use_lmdb`, else a folder on disk."""
    if isinstance(root, FileSource):
        return root
    if root is None:
        raise ValueError("a dataset root is required (the catalog resolves it from lib.utils.env)")
    if use_lmdb:
        return LmdbSource(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: dataset folder not found")
    return DirSource(root, image_loader)


def empty_meta(object_class: Optional[str] = None, major_class: Optional[str] = None) -> OrderedDict:
    meta = OrderedDict((k, None) for k in _META_KEYS)
    meta["object_class_name"] = object_class
    meta["major_class"] = major_class
    return meta


def missing_sequences_error(dataset: str, where: str, missing: Sequence[str], total: int) -> FileNotFoundError:
    shown = ", ".join(missing[:10]) + (f", ... ({len(missing) - 10} more)" if len(missing) > 10 else "")
    return FileNotFoundError(
        f"{dataset} at {where}: {len(missing)} of {total} listed sequences are missing: {shown}. "
        f"If this is a partial copy (e.g. a synthetic subset), pass only_present=True to use the "
        f"{total - len(missing)} present ones.")


class BaseVideoDataset:
    """Sequences of frames with one target box per frame."""

    def __init__(self, name: str, source: FileSource):
        self.name = name
        self.source = source
        self.sequence_list: list = []
        self.class_list: list[str] = []
        self.seq_per_class: dict[str, list[int]] = {}
        self._info_cache: dict[int, dict[str, torch.Tensor]] = {}

    def __len__(self) -> int:
        return self.get_num_sequences()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r}, {self.get_num_sequences()} sequences)"

    # ----------------------------------------------------------------------------------------- description
    def get_name(self) -> str:
        raise NotImplementedError

    def is_video_sequence(self) -> bool:
        return True

    def is_synthetic_video_dataset(self) -> bool:
        return False

    def has_class_info(self) -> bool:
        return False

    def has_occlusion_info(self) -> bool:
        return False

    def has_segmentation_info(self) -> bool:
        return False

    def get_num_sequences(self) -> int:
        return len(self.sequence_list)

    def get_num_classes(self) -> int:
        return len(self.class_list)

    def get_class_list(self) -> list[str]:
        return list(self.class_list)

    def get_sequences_in_class(self, class_name: str) -> list[int]:
        try:
            return self.seq_per_class[class_name]
        except KeyError:
            raise KeyError(f"{self.get_name()}: no class '{class_name}'; classes: {sorted(self.seq_per_class)}") \
                from None

    def get_class_name(self, seq_id: int) -> Optional[str]:
        return self.get_meta_info(seq_id)["object_class_name"]

    def get_meta_info(self, seq_id: int) -> OrderedDict:
        return empty_meta()

    def _build_seq_per_class(self) -> None:
        seq_per_class: dict[str, list[int]] = {}
        for seq_id in range(self.get_num_sequences()):
            cls = self.get_class_name(seq_id)
            if cls is not None:
                seq_per_class.setdefault(cls, []).append(seq_id)
        self.seq_per_class = seq_per_class
        self.class_list = sorted(seq_per_class)

    # ----------------------------------------------------------------------------------------- annotations
    def _load_sequence_info(self, seq_id: int) -> dict[str, torch.Tensor]:
        """Parse the annotation files of one sequence (called once per sequence)."""
        raise NotImplementedError

    def _frame_path(self, seq_id: int, frame_id: int) -> str:
        """Relative path (in `self.source`) of frame `frame_id` (0-based) of sequence `seq_id`."""
        raise NotImplementedError

    def _load_frame(self, seq_id: int, frame_id: int) -> np.ndarray:
        """Decoded frame (HxWx3 RGB; a multi-modal reader returns HxWx6: RGB, then the auxiliary image)."""
        return self.source.load_image(self._frame_path(seq_id, frame_id))

    def _check_seq_id(self, seq_id: int) -> None:
        if not 0 <= seq_id < self.get_num_sequences():
            raise IndexError(f"{self.get_name()}: sequence id {seq_id} out of range "
                             f"[0, {self.get_num_sequences()})")

    def get_sequence_info(self, seq_id: int) -> dict[str, torch.Tensor]:
        """{'bbox': float32 (N, 4) x,y,w,h, 'valid': bool (N,), 'visible': bool (N,), ...}; cached."""
        info = self._info_cache.get(seq_id)
        if info is None:
            self._check_seq_id(seq_id)
            info = self._load_sequence_info(seq_id)
            self._info_cache[seq_id] = info
        return info

    def _check_frames_exist(self, seq_id: int, num_frames: int, where: str) -> None:
        """The first and the last frame must exist (two look-ups, once per sequence)."""
        first, last = self._frame_path(seq_id, 0), self._frame_path(seq_id, num_frames - 1)
        if not self.source.exists(first):
            raise FileNotFoundError(f"{where}: sequence has no frames (expected {self.source.describe(first)})")
        if not self.source.exists(last):
            raise FileNotFoundError(f"{where}: {num_frames} annotated frames but the last frame "
                                    f"{self.source.describe(last)} is missing")

    def get_frames(self, seq_id: int, frame_ids: Sequence[int], anno: Optional[dict] = None
                   ) -> tuple[list[np.ndarray], dict[str, list[torch.Tensor]], OrderedDict]:
        """Frames (see `_load_frame`), the annotation values of those frames, and the object meta information."""
        if anno is None:
            anno = self.get_sequence_info(seq_id)
        length = len(anno["bbox"])
        for f in frame_ids:
            if not 0 <= f < length:
                raise IndexError(f"{self.get_name()}: frame id {f} out of range [0, {length}) in sequence {seq_id}")
        frames = [self._load_frame(seq_id, f) for f in frame_ids]
        anno_frames = {key: [value[f].clone() for f in frame_ids] for key, value in anno.items()}
        return frames, anno_frames, self.get_meta_info(seq_id)


def visibility_tensors(boxes: np.ndarray, visible: np.ndarray) -> dict[str, torch.Tensor]:
    """bbox/valid/visible tensors; valid = positive width and height, visible = valid & the dataset's flags."""
    bbox = torch.from_numpy(boxes.astype(np.float32))
    valid = (bbox[:, 2] > 0) & (bbox[:, 3] > 0)
    return {"bbox": bbox, "valid": valid, "visible": valid & torch.from_numpy(np.asarray(visible, dtype=bool))}
