"""TrackingNet training reader: `<root>/TRAIN_<k>/anno/<seq>.txt` and `<root>/TRAIN_<k>/frames/<seq>/<i>.jpg`
(numbered from 0, not padded). No occlusion information: visible = valid (positive width and height)."""
from __future__ import annotations

import os
import re
from collections import OrderedDict
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from lib.train.dataset.base_video_dataset import BaseVideoDataset, as_source, empty_meta, visibility_tensors
from lib.utils.annotations import AnnotationError, check_box_sizes, parse_boxes
from lib.utils.file_source import FileSource
from lib.utils.image_io import imread_rgb

__all__ = ["TrackingNet", "read_class_map"]

_CHUNK = re.compile(r"^TRAIN_(\d+)$")


def read_class_map(path: str | os.PathLike) -> dict[str, str]:
    """`<seq>\\t<class>` lines (the format of pytracking's trackingnet_classmap.txt)."""
    mapping = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            seq, sep, cls = line.rstrip("\n").partition("\t")
            if not sep:
                raise AnnotationError(f"{path}, line {number}: expected '<sequence>\\t<class>'")
            mapping[seq] = cls
    return mapping


class TrackingNet(BaseVideoDataset):
    """TrackingNet training chunks. `set_ids=None` uses every TRAIN_<k> folder found under the root."""

    def __init__(self, root: str | os.PathLike | FileSource, image_loader: Callable[[str], np.ndarray] = imread_rgb,
                 set_ids: Optional[Sequence[int]] = None, class_map_file: Optional[str | os.PathLike] = None,
                 use_lmdb: bool = False):
        super().__init__("TrackingNet", as_source(root, use_lmdb, image_loader))
        self.set_ids = self._chunks(set_ids)
        self.sequence_list = [(k, name[:-4]) for k in self.set_ids
                              for name in self.source.list_dir(f"TRAIN_{k}/anno") if name.endswith(".txt")]
        if not self.sequence_list:
            raise FileNotFoundError(f"TrackingNet at {self.source.describe('')}: no anno/*.txt in chunks "
                                    f"{self.set_ids}")
        self.class_map = read_class_map(class_map_file) if class_map_file is not None else None
        if self.class_map is not None:
            self._build_seq_per_class()

    def _chunks(self, set_ids: Optional[Sequence[int]]) -> list[int]:
        if set_ids is None:
            found = sorted(int(m.group(1)) for m in map(_CHUNK.match, self.source.list_dir("")) if m)
            if not found:
                raise FileNotFoundError(f"TrackingNet at {self.source.describe('')}: no TRAIN_<k> folders")
            return found
        missing = [k for k in set_ids if not self.source.is_dir(f"TRAIN_{k}")]
        if missing:
            raise FileNotFoundError(f"TrackingNet at {self.source.describe('')}: chunks "
                                    f"{[f'TRAIN_{k}' for k in missing]} not found")
        return list(set_ids)

    def get_name(self) -> str:
        return "trackingnet"

    def has_class_info(self) -> bool:
        return self.class_map is not None

    def get_meta_info(self, seq_id: int) -> OrderedDict:
        cls = self.class_map.get(self.sequence_list[seq_id][1]) if self.class_map is not None else None
        return empty_meta(cls)

    def _frame_path(self, seq_id: int, frame_id: int) -> str:
        k, name = self.sequence_list[seq_id]
        return f"TRAIN_{k}/frames/{name}/{frame_id}.jpg"

    def _load_sequence_info(self, seq_id: int) -> dict[str, torch.Tensor]:
        k, name = self.sequence_list[seq_id]
        rel = f"TRAIN_{k}/anno/{name}.txt"
        text = self.source.read_text(rel)
        boxes = parse_boxes(text, self.source.describe(rel))
        check_box_sizes(boxes, self.source.describe(rel), text)
        self._check_frames_exist(seq_id, len(boxes), self.source.describe(f"TRAIN_{k}/frames/{name}"))
        return visibility_tensors(boxes, np.ones(len(boxes), dtype=bool))
