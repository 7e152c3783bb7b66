"""GOT-10k training reader. `root` is a split folder (`.../GOT-10k/train`, or `.../val` for the official val):
`list.txt`, `<seq>/{%08d.jpg, groundtruth.txt, absence.label, cover.label, meta_info.ini}`.
visible = not absent & cover > 0 & positive width and height; visible_ratio = cover / 8."""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from lib.train.dataset.base_video_dataset import BaseVideoDataset, as_source, empty_meta, visibility_tensors
from lib.utils.annotations import (AnnotationError, check_box_sizes, check_length, parse_boxes, parse_flags,
                                   parse_key_values)
from lib.utils.file_source import FileSource
from lib.utils.got10k_splits import read_name_list, read_split_file, split_ids
from lib.utils.image_io import imread_rgb

__all__ = ["Got10k", "read_got10k_list"]

_META_FIELDS = ("object_class", "motion_class", "major_class", "root_class", "motion_adverb")


def read_got10k_list(source: FileSource) -> list[str]:
    """Sequence folder names from `list.txt`, in file order (the order defines the sequence ids)."""
    text = source.read_text("list.txt")
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise AnnotationError(f"{source.describe('list.txt')}: empty list.txt (expected one sequence name per line)")
    return names


class Got10k(BaseVideoDataset):
    """GOT-10k for training.

    split: None (every sequence of list.txt), or one of lib.utils.got10k_splits.SPLITS (a rule on the row ids, see
    lib/train/data_specs/README.md). `split_file` (official format, 0-based row ids) or `seq_ids` override the rule;
    `vot_exclude_file` (sequence names) removes VOT-forbidden sequences from vot* splits.
    """

    def __init__(self, root: str | os.PathLike | FileSource, image_loader: Callable[[str], np.ndarray] = imread_rgb,
                 split: Optional[str] = None, seq_ids: Optional[Sequence[int]] = None,
                 split_file: Optional[str | os.PathLike] = None, vot_exclude_file: Optional[str | os.PathLike] = None,
                 use_lmdb: bool = False):
        super().__init__("GOT10k", as_source(root, use_lmdb, image_loader))
        all_names = read_got10k_list(self.source)
        ids = self._select_ids(all_names, split, seq_ids, split_file, vot_exclude_file)
        self.sequence_list = [all_names[i] for i in ids]
        self.sequence_meta_info = [self._read_meta(s) for s in self.sequence_list]
        self._build_seq_per_class()

    @staticmethod
    def _select_ids(names: list[str], split: Optional[str], seq_ids: Optional[Sequence[int]],
                    split_file: Optional[str | os.PathLike], vot_exclude_file: Optional[str | os.PathLike]
                    ) -> list[int]:
        if sum(x is not None for x in (split, seq_ids, split_file)) > 1:
            raise ValueError("Got10k: give at most one of split, seq_ids, split_file")
        if split_file is not None:
            return read_split_file(split_file, len(names))
        if seq_ids is not None:
            bad = [i for i in seq_ids if not 0 <= i < len(names)]
            if bad:
                raise IndexError(f"Got10k: seq_ids {bad[:10]} out of range for {len(names)} sequences")
            return list(seq_ids)
        if split is None:
            return list(range(len(names)))
        exclude = read_name_list(vot_exclude_file) if vot_exclude_file is not None else None
        return split_ids(split, names, exclude)

    def _read_meta(self, seq: str) -> OrderedDict:
        rel = f"{seq}/meta_info.ini"
        values = parse_key_values(self.source.read_text(rel), self.source.describe(rel), _META_FIELDS)
        meta = empty_meta()
        for key, field in zip(meta, _META_FIELDS):
            meta[key] = values[field]
        return meta

    def get_name(self) -> str:
        return "got10k"

    def has_class_info(self) -> bool:
        return True

    def has_occlusion_info(self) -> bool:
        return True

    def get_meta_info(self, seq_id: int) -> OrderedDict:
        return self.sequence_meta_info[seq_id]

    def _frame_path(self, seq_id: int, frame_id: int) -> str:
        return f"{self.sequence_list[seq_id]}/{frame_id + 1:08d}.jpg"

    def _load_sequence_info(self, seq_id: int) -> dict[str, torch.Tensor]:
        seq = self.sequence_list[seq_id]
        gt_file = f"{seq}/groundtruth.txt"
        gt_text = self.source.read_text(gt_file)
        boxes = parse_boxes(gt_text, self.source.describe(gt_file))
        labels = {}
        for name in ("absence", "cover"):
            rel = f"{seq}/{name}.label"
            labels[name] = parse_flags(self.source.read_text(rel), self.source.describe(rel))
            check_length(labels[name], len(boxes), self.source.describe(rel), "labels", gt_file)
        cover = labels["cover"]
        if ((cover < 0) | (cover > 8)).any():
            raise AnnotationError(f"{self.source.describe(f'{seq}/cover.label')}: cover levels must be 0..8")
        present = (labels["absence"] == 0) & (cover > 0)
        check_box_sizes(boxes, self.source.describe(gt_file), gt_text, present)
        self._check_frames_exist(seq_id, len(boxes), self.source.describe(seq))
        info = visibility_tensors(boxes, present)
        info["visible_ratio"] = torch.from_numpy(cover.astype(np.float32) / 8)
        return info
