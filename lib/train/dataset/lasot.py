"""LaSOT training reader: `<root>/<class>/<class>-<k>/{img/%08d.jpg, groundtruth.txt, full_occlusion.txt,
out_of_view.txt}`; visible = not fully occluded, not out of view, positive width and height."""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from lib.train.dataset.base_video_dataset import (BaseVideoDataset, as_source, empty_meta, missing_sequences_error,
                                                  visibility_tensors)
from lib.utils.annotations import check_box_sizes, check_length, parse_boxes, parse_flags
from lib.utils.file_source import FileSource
from lib.utils.image_io import imread_rgb

__all__ = ["Lasot", "lasot_train_split", "lasot_classes"]

DATA_SPECS = Path(__file__).resolve().parent.parent / "data_specs"
LASOT_TRAIN_SPLIT_FILE = DATA_SPECS / "lasot_train_split.txt"


def lasot_train_split() -> list[str]:
    """The 1,120 official LaSOT training sequences (complement of the 280 Protocol-II test sequences)."""
    return [s.strip() for s in LASOT_TRAIN_SPLIT_FILE.read_text(encoding="utf-8").splitlines() if s.strip()]


def lasot_classes() -> list[str]:
    """The 70 LaSOT classes."""
    return sorted({s.rsplit("-", 1)[0] for s in lasot_train_split()})


class Lasot(BaseVideoDataset):
    """LaSOT for training.

    Sequences: `split='train'` (official train split), or `vid_ids` (e.g. [1, 3] -> `<class>-1`, `<class>-3` of
    every class), or explicit `names`. With `only_present=True`, sequences missing from `root` are dropped
    instead of raising (for partial or synthetic copies).
    """

    def __init__(self, root: str | os.PathLike | FileSource, image_loader: Callable[[str], np.ndarray] = imread_rgb,
                 split: Optional[str] = "train", vid_ids: Optional[Sequence[int]] = None,
                 names: Optional[Sequence[str]] = None, only_present: bool = False, use_lmdb: bool = False):
        super().__init__("LaSOT", as_source(root, use_lmdb, image_loader))
        self.sequence_list = self._select(split, vid_ids, names, only_present)
        self._build_seq_per_class()

    def _select(self, split: Optional[str], vid_ids: Optional[Sequence[int]], names: Optional[Sequence[str]],
                only_present: bool) -> list[str]:
        if names is not None:
            wanted = list(names)
        elif vid_ids is not None:
            wanted = [f"{c}-{v}" for c in lasot_classes() for v in vid_ids]
        elif split == "train":
            wanted = lasot_train_split()
        else:
            raise ValueError(f"LaSOT: unknown split {split!r}; use split='train', vid_ids=[...] or names=[...]")
        present = [s for s in wanted if self.source.exists(f"{self._seq_dir(s)}/groundtruth.txt")]
        if not only_present and len(present) != len(wanted):
            found = set(present)
            missing = [s for s in wanted if s not in found]
            raise missing_sequences_error("LaSOT", self.source.describe(""), missing, len(wanted))
        if not present:
            raise FileNotFoundError(f"LaSOT at {self.source.describe('')}: none of the {len(wanted)} requested "
                                    f"sequences is present")
        return present

    @staticmethod
    def _seq_dir(name: str) -> str:
        return f"{name.rsplit('-', 1)[0]}/{name}"

    def get_name(self) -> str:
        return "lasot"

    def has_class_info(self) -> bool:
        return True

    def has_occlusion_info(self) -> bool:
        return True

    def get_meta_info(self, seq_id: int) -> OrderedDict:
        return empty_meta(self.sequence_list[seq_id].rsplit("-", 1)[0])

    def _frame_path(self, seq_id: int, frame_id: int) -> str:
        return f"{self._seq_dir(self.sequence_list[seq_id])}/img/{frame_id + 1:08d}.jpg"

    def _load_sequence_info(self, seq_id: int) -> dict[str, torch.Tensor]:
        seq = self._seq_dir(self.sequence_list[seq_id])
        gt_file, occ_file, oov_file = (f"{seq}/{n}" for n in ("groundtruth.txt", "full_occlusion.txt",
                                                               "out_of_view.txt"))
        gt_text = self.source.read_text(gt_file)
        boxes = parse_boxes(gt_text, self.source.describe(gt_file))
        flags = []
        for rel in (occ_file, oov_file):
            values = parse_flags(self.source.read_text(rel), self.source.describe(rel))
            check_length(values, len(boxes), self.source.describe(rel), "values", gt_file)
            flags.append(values)
        present = (flags[0] == 0) & (flags[1] == 0)
        check_box_sizes(boxes, self.source.describe(gt_file), gt_text, present)
        self._check_frames_exist(seq_id, len(boxes), self.source.describe(seq))
        return visibility_tensors(boxes, present)
