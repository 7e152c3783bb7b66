"""Evaluation sequences (pytracking's `Sequence` / `SequenceList`)."""
from __future__ import annotations

from typing import Callable, Optional, Sequence as Seq

import numpy as np

from lib.utils.file_source import FrameList
from lib.utils.image_io import imread_rgb

__all__ = ["Sequence", "SequenceList"]


class Sequence:
    """One evaluation sequence.

    frames: frame references (file paths, or LMDB keys when `frame_loader` reads from a pack): a list, or a
        FrameList that formats them on demand (readers of numbered frames use it; loading stays fast); multi-modal
        benchmarks (RGB-D/T/E) store (RGB file, auxiliary file) pairs and their `frame_loader` returns HxWx6 uint8
        frames: RGB, then the auxiliary image as 3 channels (lib/utils/modalities.py);
    dataset: the tag the analysis keys its rules on ('lasot', 'got10k', 'uav', ...);
    ground_truth_rect: (N, 4) float64 x,y,w,h (test splits of GOT-10k/TrackingNet: first row only);
    target_visible: bool (N,) where the benchmark provides visibility, else None;
    image_size: (W, H) where the annotations give it (GOT-10k's meta_info.ini; the got10k protocol clips to it);
    ground_truth_rect_aux: (N, 4) boxes annotated on the auxiliary modality where the benchmark has them (RGB-T:
        infrared.txt; RGBT234's metric takes the better of the two ground truths per frame), else None.
    """

    def __init__(self, name: str, frames: Seq[str], dataset: str, ground_truth_rect: np.ndarray,
                 target_visible: Optional[np.ndarray] = None, object_class: Optional[str] = None,
                 init_data: Optional[dict] = None, frame_loader: Callable[[str], np.ndarray] = imread_rgb,
                 image_size: Optional[tuple[float, float]] = None,
                 ground_truth_rect_aux: Optional[np.ndarray] = None):
        self.name = name
        self.frames = frames if isinstance(frames, FrameList) else list(frames)
        self.dataset = dataset
        self.ground_truth_rect = np.asarray(ground_truth_rect, dtype=np.float64).reshape(-1, 4)
        self.target_visible = None if target_visible is None else np.asarray(target_visible, dtype=bool)
        self.ground_truth_rect_aux = None if ground_truth_rect_aux is None else \
            np.asarray(ground_truth_rect_aux, dtype=np.float64).reshape(-1, 4)
        self.object_class = object_class
        self.image_size = image_size
        self.frame_loader = frame_loader
        if init_data is None:
            init_data = {0: {"bbox": [float(v) for v in self.ground_truth_rect[0]]}}
        self.init_data = init_data
        self._start_at_first_init_frame()

    def _start_at_first_init_frame(self) -> None:
        """Cut frames and ground truth so that the first initialisation frame becomes frame 0."""
        start = min(self.init_data)
        if start <= 0:
            return
        self.frames = self.frames[start:]
        if len(self.ground_truth_rect) > start:
            self.ground_truth_rect = self.ground_truth_rect[start:]
        if self.ground_truth_rect_aux is not None and len(self.ground_truth_rect_aux) > start:
            self.ground_truth_rect_aux = self.ground_truth_rect_aux[start:]
        if self.target_visible is not None:
            self.target_visible = self.target_visible[start:]
        self.init_data = {frame - start: value for frame, value in self.init_data.items()}

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        return f"Sequence {self.name} ({self.dataset}), length={len(self.frames)} frames"

    def read_frame(self, index: int) -> np.ndarray:
        """Frame `index` as an RGB uint8 array."""
        return self.frame_loader(self.frames[index])

    def frame_info(self, frame_num: int) -> dict:
        values = self.init_data.get(frame_num, {})
        return {f"init_{key}": value for key, value in values.items() if value is not None}

    def init_info(self) -> dict:
        """{'init_bbox': [x, y, w, h]} for frame 0."""
        return self.frame_info(0)

    def init_bbox(self, frame_num: int = 0) -> Optional[list]:
        return self.frame_info(frame_num).get("init_bbox")


class SequenceList(list):
    """A list of sequences indexable by position, name, list of positions, or slice."""

    def __getitem__(self, item):
        if isinstance(item, str):
            for seq in self:
                if seq.name == item:
                    return seq
            raise KeyError(f"no sequence named '{item}' in this list of {len(self)} sequences")
        if isinstance(item, (int, np.integer)):
            return super().__getitem__(int(item))
        if isinstance(item, (tuple, list)):
            return SequenceList(super(SequenceList, self).__getitem__(int(i)) for i in item)
        return SequenceList(super().__getitem__(item))

    def __add__(self, other: Seq) -> "SequenceList":
        return SequenceList(list(self) + list(other))

    def copy(self) -> "SequenceList":
        return SequenceList(self)

    def names(self) -> list[str]:
        return [seq.name for seq in self]
