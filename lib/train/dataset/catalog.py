"""Training dataset catalog: the config names of DATA.TRAIN/VAL.DATASETS_NAME -> a constructed reader.

Paths come from `lib.utils.env.env_settings()` (fields `lasot_dir`, `got10k_dir` = the GOT-10k `train/` folder,
`got10k_val_dir`, `trackingnet_dir`, `coco_dir`; with `use_lmdb`, the `*_lmdb_dir` fields). LMDB packs are made
by `tracking/pack_lmdb.py` from the dataset folders: lasot -> lasot_lmdb, the whole GOT-10k root (train/ and val/)
-> got10k_lmdb, trackingnet -> trackingnet_lmdb, coco -> coco_lmdb. The multi-modal datasets (DepthTrack_train/_val,
LasHeR_train/_val, VisEvent: fields depthtrack_dir, depthtrack_val_dir, lasher_dir, lasher_val_dir, visevent_dir)
read folders only.

A family or plugin adds a dataset with `register_train_dataset` (and its path field with
`lib.utils.env.register_path_field`) from its package's `__init__.py`. This module stays light (no torch, no
readers at import time) so that registering costs nothing; readers are imported when a dataset is built.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from lib.utils.cli import UserError

if TYPE_CHECKING:
    from lib.train.dataset.base_video_dataset import BaseVideoDataset
    from lib.utils.file_source import FileSource

__all__ = ["build_train_dataset", "register_train_dataset", "require_train_dataset", "train_dataset_names",
           "UnknownDatasetError"]

# (source, only_present) -> reader. `only_present` lets a reader accept a partial copy of its dataset.
DatasetBuilder = Callable[["FileSource", bool], "BaseVideoDataset"]


class UnknownDatasetError(UserError, KeyError):
    """A dataset name that nothing registered."""


@dataclass(frozen=True)
class TrainDatasetEntry:
    field: str                # env field of the dataset folder
    build: DatasetBuilder
    lmdb_field: str = ""      # env field of its LMDB pack ("" when it has none)
    lmdb_prefix: str = ""     # key prefix of this dataset inside the pack


_CATALOG: dict[str, TrainDatasetEntry] = {}


def register_train_dataset(name: str, field: str, build: DatasetBuilder, lmdb_field: str = "",
                           lmdb_prefix: str = "") -> None:
    """Make `name` usable in DATA.*.DATASETS_NAME: `build(source, only_present)` reads the folder at env field
    `field` (or the LMDB pack at `lmdb_field`, under `lmdb_prefix`, with --use_lmdb 1)."""
    entry = TrainDatasetEntry(field, build, lmdb_field, lmdb_prefix)
    if name in _CATALOG and _CATALOG[name] != entry:
        raise ValueError(f"training dataset '{name}' is already registered")
    _CATALOG[name] = entry


def train_dataset_names() -> list[str]:
    return list(_CATALOG)


def _lasot(src: "FileSource", only: bool) -> "BaseVideoDataset":
    from lib.train.dataset.lasot import Lasot

    return Lasot(src, split="train", only_present=only)


def _got10k(split: str | None) -> DatasetBuilder:
    def build(src: "FileSource", only: bool) -> "BaseVideoDataset":
        from lib.train.dataset.got10k import Got10k

        return Got10k(src, split=split)
    return build


def _coco(src: "FileSource", only: bool) -> "BaseVideoDataset":
    from lib.train.dataset.coco_seq import MSCOCOSeq

    return MSCOCOSeq(src, version="2017")


def _trackingnet(src: "FileSource", only: bool) -> "BaseVideoDataset":
    from lib.train.dataset.tracking_net import TrackingNet

    return TrackingNet(src)


def _multimodal(name: str) -> DatasetBuilder:
    def build(src: "FileSource", only: bool) -> "BaseVideoDataset":
        from lib.train.dataset.multimodal import MULTIMODAL_DATASETS, MultiModalVideoDataset

        return MultiModalVideoDataset(src, *MULTIMODAL_DATASETS[name])
    return build


register_train_dataset("LASOT", "lasot_dir", _lasot, "lasot_lmdb_dir")
for _name, _split in (("GOT10K_vottrain", "vottrain"), ("GOT10K_votval", "votval"),
                      ("GOT10K_train_full", "train_full")):
    register_train_dataset(_name, "got10k_dir", _got10k(_split), "got10k_lmdb_dir", "train")
register_train_dataset("GOT10K_official_val", "got10k_val_dir", _got10k(None), "got10k_lmdb_dir", "val")
register_train_dataset("COCO17", "coco_dir", _coco, "coco_lmdb_dir")
register_train_dataset("TRACKINGNET", "trackingnet_dir", _trackingnet, "trackingnet_lmdb_dir")
# multi-modal (HxWx6 frames for DATA.AUX), the names of the official SDSTrack configs
for _name, _field in (("DepthTrack_train", "depthtrack_dir"), ("DepthTrack_val", "depthtrack_val_dir"),
                      ("LasHeR_train", "lasher_dir"), ("LasHeR_val", "lasher_val_dir"), ("VisEvent", "visevent_dir")):
    register_train_dataset(_name, _field, _multimodal(_name))
# Still-image pairs of real object photographs in the GOT-10k layout (lib/synthetic/object_photos.py).
register_train_dataset("OBJECT_PHOTOS", "object_photos_dir", _got10k(None))


def build_train_dataset(name: str, image_loader: Optional[Callable[[str], np.ndarray]] = None,
                        use_lmdb: bool = False, settings: Optional[Any] = None,
                        only_present: bool = False) -> "BaseVideoDataset":
    """Construct the reader registered as `name`.

    `image_loader`: reads a frame file (default lib.utils.image_io.imread_rgb; a multi-modal dataset registers a
    builder whose reader stacks its modalities). `settings`: an `EnvSettings`, or a run-settings object carrying one
    as `.env` (lib.train.admin.settings); default `lib.utils.env.env_settings()`. `only_present` lets LaSOT use a
    partial copy (sequences of the official train split that are missing are skipped instead of an error); the
    list-driven datasets read what their lists name in any case.
    """
    from lib.utils.file_source import DirSource, LmdbSource
    from lib.utils.image_io import imread_rgb

    entry, path = _entry_and_path(name, use_lmdb, settings)
    if use_lmdb:
        source: "FileSource" = LmdbSource(path).sub(entry.lmdb_prefix)
    else:
        source = DirSource(path, image_loader or imread_rgb)
    return entry.build(source, only_present)


def require_train_dataset(name: str, use_lmdb: bool = False, settings: Optional[Any] = None) -> str:
    """The folder (or LMDB pack) `build_train_dataset(name, ...)` reads, failing as it would on an unknown name or
    a missing path, without reading anything: what a launcher checks before starting processes."""
    return _entry_and_path(name, use_lmdb, settings)[1]


def _entry_and_path(name: str, use_lmdb: bool, settings: Optional[Any]) -> tuple[TrainDatasetEntry, str]:
    entry = _CATALOG.get(name)
    if entry is None:
        raise UnknownDatasetError(f"unknown training dataset '{name}'; valid names: {', '.join(_CATALOG)}")
    if settings is None:
        from lib.utils.env import env_settings
        settings = env_settings()
    paths = settings if hasattr(settings, "require") else settings.env
    if not use_lmdb:
        return entry, paths.require(entry.field)
    if not entry.lmdb_field:
        raise UserError(f"training dataset '{name}' has no LMDB pack; run without --use_lmdb")
    return entry, paths.require(entry.lmdb_field)
