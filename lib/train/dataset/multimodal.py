"""Training readers of the multi-modal datasets (DepthTrack, LasHeR, VisEvent): HxWx6 uint8 frames, RGB then the
auxiliary image as 3 channels (lib/utils/modalities.py), for DATA.AUX configs.

Sequences: the names of the folder's list file when it has one (LasHeR `trainingsetList.txt`, VisEvent
`trainlist.txt`, DepthTrack `list.txt`), else every sub-folder. A listed sequence that is missing is an error.
valid = width and height above the official minimum of each loader (DepthTrack 10 px, VisEvent 5 px, LasHeR 0);
visible = valid and present (finite box; VisEvent's absent_label.txt 1). LasHeR frames are paired by frame number,
not by the official `glob('*{i}.jpg')[0]`, which mismatches `*1.jpg` with `*11.jpg`.
"""
from __future__ import annotations

import numpy as np
import torch

from lib.train.dataset.base_video_dataset import BaseVideoDataset
from lib.utils.annotations import DataFileError
from lib.utils.file_source import FileSource
from lib.utils.modalities import (RGBD, RGBE, RGBT, Layout, ModalSequence, load_modal_frame, read_modal_sequence,
                                  read_name_list)

__all__ = ["MultiModalVideoDataset", "MULTIMODAL_DATASETS"]


class MultiModalVideoDataset(BaseVideoDataset):
    """Sequence folders of one multi-modal layout (see the module docstring)."""

    def __init__(self, source: FileSource, name: str, layout: Layout, list_file: str = "", min_size: float = 0.0):
        super().__init__(name, source)
        self.layout = layout
        self.min_size = float(min_size)
        self.sequence_list = self._listed(list_file)
        self._modal: dict[int, ModalSequence] = {}

    def _listed(self, list_file: str) -> list[str]:
        if list_file and self.source.exists(list_file):
            names = read_name_list(self.source, list_file)
            missing = [n for n in names if not self.source.is_dir(n)]
            if missing:
                shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
                raise DataFileError(f"{self.source.describe(list_file)}: {len(missing)} of {len(names)} listed "
                                    f"sequences are missing: {shown}")
            return names
        names = [d for d in self.source.list_dir("") if not d.startswith(".") and self.source.is_dir(d)]
        if not names:
            raise DataFileError(f"{self.source.describe('')}: no sequence folders")
        return names

    def get_name(self) -> str:
        return self.name.lower()

    def _load_sequence_info(self, seq_id: int) -> dict[str, torch.Tensor]:
        seq = read_modal_sequence(self.source, self.sequence_list[seq_id], self.layout)
        self._modal[seq_id] = seq
        bbox = torch.from_numpy(seq.boxes.astype(np.float32))
        valid = (bbox[:, 2] > self.min_size) & (bbox[:, 3] > self.min_size)
        return {"bbox": bbox, "valid": valid, "visible": valid & torch.from_numpy(seq.present)}

    def _load_frame(self, seq_id: int, frame_id: int) -> np.ndarray:
        if seq_id not in self._modal:
            self._load_sequence_info(seq_id)
        return load_modal_frame(self.source, self._modal[seq_id].pairs[frame_id], self.layout)


# catalogue name -> (display name, layout, list file, official minimum box side for `valid`)
MULTIMODAL_DATASETS: dict[str, tuple[str, Layout, str, float]] = {
    "DepthTrack_train": ("DepthTrack", RGBD, "list.txt", 10.0),
    "DepthTrack_val": ("DepthTrack", RGBD, "list.txt", 10.0),
    "LasHeR_train": ("LasHeR", RGBT, "trainingsetList.txt", 0.0),
    "LasHeR_val": ("LasHeR", RGBT, "valsetList.txt", 0.0),
    "VisEvent": ("VisEvent", RGBE, "trainlist.txt", 5.0),
}
