"""COCO as one-frame "sequences": every non-crowd instance of `annotations/instances_<split><version>.json` is
a sequence whose single frame is `images/<split><version>/<file_name>`.

The JSON is parsed once with the standard library (no pycocotools) into compact arrays, which keeps the memory
that DataLoader workers share small. valid = width and height above `min_size` (50 px in STARK/OSTrack).
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from lib.train.dataset.base_video_dataset import BaseVideoDataset, as_source, empty_meta
from lib.utils.annotations import AnnotationError
from lib.utils.file_source import FileSource
from lib.utils.image_io import imread_rgb

__all__ = ["MSCOCOSeq"]


class MSCOCOSeq(BaseVideoDataset):
    """COCO instances as image "sequences" (`is_video_sequence() == False`)."""

    def __init__(self, root: str | os.PathLike | FileSource, image_loader: Callable[[str], np.ndarray] = imread_rgb,
                 split: str = "train", version: str = "2017", min_size: float = 50.0, use_lmdb: bool = False):
        super().__init__("COCO", as_source(root, use_lmdb, image_loader))
        self.image_dir = f"images/{split}{version}"
        self.anno_file = f"annotations/instances_{split}{version}.json"
        self.min_size = float(min_size)
        self._load(self.anno_file)
        self._build_seq_per_class()

    def _load(self, rel: str) -> None:
        where = self.source.describe(rel)
        try:
            doc = json.loads(self.source.read_bytes(rel))
        except json.JSONDecodeError as e:
            raise AnnotationError(f"{where}: invalid JSON ({e})") from None
        try:
            self.categories = {int(c["id"]): (str(c["name"]), c.get("supercategory")) for c in doc["categories"]}
            files = {int(im["id"]): str(im["file_name"]) for im in doc["images"]}
            annotations = doc["annotations"]
        except (KeyError, TypeError, ValueError) as e:
            raise AnnotationError(f"{where}: missing or malformed 'categories'/'images' entries ({e!r})") from None
        self.file_names: list[str] = sorted(set(files.values()))
        file_index = {f: i for i, f in enumerate(self.file_names)}
        boxes, image_ids, cat_ids, ann_ids = [], [], [], []
        for a in annotations:
            try:
                if a["iscrowd"]:
                    continue
                box = [float(v) for v in a["bbox"]]
                image, category = files[int(a["image_id"])], int(a["category_id"])
            except (KeyError, TypeError, ValueError) as e:
                raise AnnotationError(f"{where}: annotation {a.get('id', '?')} is malformed ({e!r})") from None
            if len(box) != 4 or not np.isfinite(box).all() or box[2] < 0 or box[3] < 0:
                raise AnnotationError(f"{where}: annotation {a.get('id', '?')} has an invalid bbox {a['bbox']}")
            if category not in self.categories:
                raise AnnotationError(f"{where}: annotation {a.get('id', '?')} has unknown category {category}")
            boxes.append(box)
            image_ids.append(file_index[image])
            cat_ids.append(category)
            ann_ids.append(int(a.get("id", -1)))
        if not boxes:
            raise AnnotationError(f"{where}: no non-crowd annotations")
        self.boxes = np.asarray(boxes, dtype=np.float32)
        self.image_index = np.asarray(image_ids, dtype=np.int64)
        self.category_ids = np.asarray(cat_ids, dtype=np.int64)
        self.sequence_list = ann_ids

    def _build_seq_per_class(self) -> None:
        """Grouped with numpy: COCO has ~860k instances, too many for a per-instance Python loop over metas."""
        self.seq_per_class = {}
        for cat in np.unique(self.category_ids):
            ids = np.flatnonzero(self.category_ids == cat).tolist()
            self.seq_per_class.setdefault(self.categories[int(cat)][0], []).extend(ids)
        self.class_list = sorted(self.seq_per_class)

    def get_name(self) -> str:
        return "coco"

    def is_video_sequence(self) -> bool:
        return False

    def has_class_info(self) -> bool:
        return True

    def get_meta_info(self, seq_id: int) -> OrderedDict:
        name, supercategory = self.categories[int(self.category_ids[seq_id])]
        return empty_meta(name, supercategory)

    def _frame_path(self, seq_id: int, frame_id: int) -> str:
        return f"{self.image_dir}/{self.file_names[self.image_index[seq_id]]}"

    def _load_sequence_info(self, seq_id: int) -> dict[str, torch.Tensor]:
        bbox = torch.from_numpy(self.boxes[seq_id:seq_id + 1].copy())
        valid = (bbox[:, 2] > self.min_size) & (bbox[:, 3] > self.min_size)
        return {"bbox": bbox, "valid": valid, "visible": valid.clone()}

    def get_frames(self, seq_id: int, frame_ids: Sequence[int], anno: Optional[dict] = None):
        """The single image repeated once per requested frame id (any ids are accepted)."""
        if anno is None:
            anno = self.get_sequence_info(seq_id)
        image = self.source.load_image(self._frame_path(seq_id, 0))
        frames = [image.copy() for _ in frame_ids]
        anno_frames = {key: [value[0].clone() for _ in frame_ids] for key, value in anno.items()}
        return frames, anno_frames, self.get_meta_info(seq_id)
