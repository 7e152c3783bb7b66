"""Training dataset catalog: the config names STARK-lineage experiments use -> a constructed reader.

Paths come from `lib.utils.env.env_settings()` (fields `lasot_dir`, `got10k_dir` = the GOT-10k `train/` folder,
`got10k_val_dir`, `trackingnet_dir`, `coco_dir`; with `use_lmdb`, the `*_lmdb_dir` fields). LMDB packs are made
by `tracking/pack_lmdb.py` from the dataset folders: lasot -> lasot_lmdb, the whole GOT-10k root (train/ and val/)
-> got10k_lmdb, trackingnet -> trackingnet_lmdb, coco -> coco_lmdb.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from lib.train.dataset.base_video_dataset import BaseVideoDataset
from lib.train.dataset.coco_seq import MSCOCOSeq
from lib.train.dataset.got10k import Got10k
from lib.train.dataset.lasot import Lasot
from lib.train.dataset.tracking_net import TrackingNet
from lib.utils.file_source import DirSource, FileSource, LmdbSource
from lib.utils.image_io import imread_rgb

__all__ = ["build_train_dataset", "train_dataset_names"]


@dataclass(frozen=True)
class _Entry:
    field: str                      # env field of the dataset folder
    lmdb_field: str                 # env field of its LMDB pack
    lmdb_prefix: str                # key prefix of this dataset inside the pack
    build: Callable[[FileSource, bool], BaseVideoDataset]   # (source, only_present) -> reader


_CATALOG: dict[str, _Entry] = {
    "LASOT": _Entry("lasot_dir", "lasot_lmdb_dir", "",
                    lambda src, only: Lasot(src, split="train", only_present=only)),
    "GOT10K_vottrain": _Entry("got10k_dir", "got10k_lmdb_dir", "train",
                              lambda src, only: Got10k(src, split="vottrain")),
    "GOT10K_votval": _Entry("got10k_dir", "got10k_lmdb_dir", "train",
                            lambda src, only: Got10k(src, split="votval")),
    "GOT10K_train_full": _Entry("got10k_dir", "got10k_lmdb_dir", "train",
                                lambda src, only: Got10k(src, split="train_full")),
    "GOT10K_official_val": _Entry("got10k_val_dir", "got10k_lmdb_dir", "val",
                                  lambda src, only: Got10k(src, split=None)),
    "COCO17": _Entry("coco_dir", "coco_lmdb_dir", "", lambda src, only: MSCOCOSeq(src, version="2017")),
    "TRACKINGNET": _Entry("trackingnet_dir", "trackingnet_lmdb_dir", "", lambda src, only: TrackingNet(src)),
}


def train_dataset_names() -> list[str]:
    return list(_CATALOG)


def build_train_dataset(name: str, image_loader: Callable[[str], np.ndarray] = imread_rgb, use_lmdb: bool = False,
                        settings: Optional[Any] = None, only_present: bool = False) -> BaseVideoDataset:
    """Construct the reader registered as `name`.

    `settings`: an `EnvSettings`, or a run-settings object carrying one as `.env` (lib.train.admin.settings);
    default `lib.utils.env.env_settings()`. `only_present` lets LaSOT use a
    partial copy (sequences of the official train split that are missing are skipped instead of an error); the
    list-driven datasets read what their lists name in any case.
    """
    entry = _CATALOG.get(name)
    if entry is None:
        raise KeyError(f"unknown training dataset '{name}'; valid names: {', '.join(_CATALOG)}")
    if settings is None:
        from lib.utils.env import env_settings
        settings = env_settings()
    paths = settings if hasattr(settings, "require") else settings.env
    if use_lmdb:
        source: FileSource = LmdbSource(paths.require(entry.lmdb_field)).sub(entry.lmdb_prefix)
    else:
        source = DirSource(paths.require(entry.field), image_loader)
    return entry.build(source, only_present)
