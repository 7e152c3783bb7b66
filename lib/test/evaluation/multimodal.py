"""Evaluation readers of the multi-modal benchmarks (RGB-D, RGB-T, RGB-E) in their official on-disk layouts.

Each frame is an HxWx6 uint8 array (RGB, then the auxiliary image as 3 channels; lib/utils/modalities.py) read by
the Sequence's `frame_loader` from an (RGB file, auxiliary file) pair.

  depthtrack    <root>/<seq>/{color/%08d.jpg, depth/%08d.png, groundtruth.txt}; root = the test folder; the
                sequences of its list.txt (the VOT workspace convention) when present, else every sub-folder
  vot_rgbd2022  the same sequence folders (plus VOT's `sequence` files), named by the required list.txt
  lasher        <root>/<seq>/{visible/, infrared/, visible.txt, infrared.txt, init.txt}; root = testingset/, the
                sequences of its testingsetList.txt when present, else every sub-folder
  rgbt234       the LasHeR sequence layout, every sub-folder of the root
  visevent      <root>/<seq>/{vis_imgs/*.bmp, event_imgs/*.bmp, groundtruth.txt, absent_label.txt}; root = the
                test folder, the sequences of its testlist.txt when present, else every sub-folder

Absent targets as the benchmarks store them: NaN rows, boxes without positive width and height, absent_label.txt
0 -> `target_visible` False. RGB-T sequences also carry the infrared ground truth (`ground_truth_rect_aux`).
"""
from __future__ import annotations

import os
from typing import Iterable, Optional

from lib.test.evaluation.data import Sequence, SequenceList
from lib.test.evaluation.readers import EvalDataset, choose_sequences
from lib.utils.env import MissingPathError
from lib.utils.file_source import DirSource
from lib.utils.modalities import RGBD, RGBE, RGBT, Layout, read_modal_sequence, read_name_list

__all__ = ["MultiModalDataset", "depthtrack_dataset", "vot_rgbd2022_dataset", "lasher_dataset", "rgbt234_dataset",
           "visevent_dataset"]


class MultiModalDataset(EvalDataset):
    """Sequence folders of one layout under `root`, named by `list_file` (required or when present) or found as
    the sub-folders of the root."""

    def __init__(self, root: str | os.PathLike, tag: str, layout: Layout, list_file: str = "",
                 list_required: bool = False, names: Optional[Iterable[str]] = None, only_present: bool = False):
        if not os.path.isdir(root):
            raise MissingPathError(f"{root}: {tag} folder not found")
        super().__init__(DirSource(root))
        self.tag, self.layout = tag, layout
        if list_file and (list_required or self.source.exists(list_file)):
            listed = read_name_list(self.source, list_file)
        else:
            listed = [d for d in self.source.list_dir("") if not d.startswith(".") and self.source.is_dir(d)]
        self.sequence_names = choose_sequences(tag, self.source, listed, names, only_present, self.source.is_dir)

    def __len__(self) -> int:
        return len(self.sequence_names)

    def get_sequence_list(self) -> SequenceList:
        return SequenceList(self._construct(n) for n in self.sequence_names)

    def _construct(self, name: str) -> Sequence:
        seq = read_modal_sequence(self.source, name, self.layout)
        frames = [(self.source.path(rgb), self.source.path(aux)) for rgb, aux in seq.pairs]
        return Sequence(name, frames, self.tag, seq.boxes, seq.present, frame_loader=self.layout.path_loader,
                        ground_truth_rect_aux=seq.aux_boxes)


def depthtrack_dataset(root: str | os.PathLike, **kwargs) -> MultiModalDataset:
    return MultiModalDataset(root, "depthtrack", RGBD, "list.txt", **kwargs)


def vot_rgbd2022_dataset(root: str | os.PathLike, **kwargs) -> MultiModalDataset:
    return MultiModalDataset(root, "vot_rgbd2022", RGBD, "list.txt", list_required=True, **kwargs)


def lasher_dataset(root: str | os.PathLike, **kwargs) -> MultiModalDataset:
    return MultiModalDataset(root, "lasher", RGBT, "testingsetList.txt", **kwargs)


def rgbt234_dataset(root: str | os.PathLike, **kwargs) -> MultiModalDataset:
    return MultiModalDataset(root, "rgbt234", RGBT, **kwargs)


def visevent_dataset(root: str | os.PathLike, **kwargs) -> MultiModalDataset:
    return MultiModalDataset(root, "visevent", RGBE, "testlist.txt", **kwargs)
