"""Data loaders for training: the collate the actors expect, a per-rank index sampler, and the builder.

Batches are dicts of tensors stacked along dim 1, i.e. (frames, batch, ...), as the official actors index them
(`data['search_images'][0]` is the first search frame of every sample); strings and None are gathered in lists.

`build_dataloaders` reads the shared config keys, builds datasets through the dataset catalog and applies a
family's extras given as {'sampler': {...}, 'processing': {...}, 'transforms': {...}}: keyword arguments of
TrackingSampler, TrackingProcessing and `build_transforms` merged over the defaults derived from the config.
Frames may have auxiliary channels after RGB (DATA.AUX); normalisation is per channel.

DATA.TRAIN.SAMPLE_PER_EPOCH is the global count per epoch, as in the official DistributedSampler set-up: each of
`world_size` ranks iterates ceil(N / world_size) indices. Indices are yielded as (epoch, index) pairs, so the
content of a sample depends only on (seed, epoch, index), not on the worker or rank that builds it.
Validation draws the same samples every time it runs (epoch fixed at 0), so its losses compare across epochs.
"""
from __future__ import annotations

import inspect
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterator

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from lib.config.defaults import input_normalisation
from lib.train.data.processing import TrackingProcessing
from lib.train.data.sampler import TrackingSampler
from lib.train.data.transforms import (Compose, Normalize, RandomHorizontalFlip, RandomHorizontalFlip_Norm,
                                       ToGrayscale, ToTensor, ToTensorAndJitter)

__all__ = ["collate_stack1", "EpochIndexSampler", "TrackingLoader", "build_transforms", "build_processing",
           "build_sampler", "build_dataloaders", "OFFICIAL_AUGMENT"]

# Official augmentation strengths (not config keys in any official file).
OFFICIAL_AUGMENT = {"grayscale_probability": 0.05, "flip_probability": 0.5, "brightness_jitter": 0.2,
                    "crop_flip_probability": 0.5}


# ---------------------------------------------------------------------------------------------------- collate
def _stack(batch: list[torch.Tensor], dim: int) -> torch.Tensor:
    out = None
    if torch.utils.data.get_worker_info() is not None:
        # Build the batch directly in shared memory, as torch's default collate does, to skip a copy when the
        # worker hands it to the main process.
        elem = batch[0]
        shape = list(elem.shape)
        shape.insert(dim, len(batch))
        storage = elem._typed_storage()._new_shared(math.prod(shape), device=elem.device)
        out = elem.new(storage).resize_(shape)
    return torch.stack(batch, dim, out=out)


def collate_stack1(batch: list) -> Any:
    """Collate samples stacking tensors along dim 1 (0-dim tensors and numbers along dim 0)."""
    elem = batch[0]
    if isinstance(elem, torch.Tensor):
        return _stack(batch, 1 if elem.dim() > 0 else 0)
    if isinstance(elem, np.ndarray):
        return collate_stack1([torch.from_numpy(np.asarray(b)) for b in batch])
    if isinstance(elem, Mapping):
        return {key: collate_stack1([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, (bool, int, float)):
        return torch.tensor(batch)
    if elem is None or isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Sequence):
        return [collate_stack1(list(items)) for items in zip(*batch)]
    return list(batch)


# ---------------------------------------------------------------------------------------------------- loader
class EpochIndexSampler(Sampler):
    """Yields (epoch, index) for this rank's share of `num_samples` indices, reshuffled per epoch.

    Every rank gets ceil(num_samples / world_size) indices from a permutation of that many times world_size,
    seeded by (seed, epoch), so ranks never share an index. With vary_by_epoch=False the epoch stays 0.
    """

    def __init__(self, num_samples: int, rank: int = 0, world_size: int = 1, seed: int = 0, shuffle: bool = True,
                 vary_by_epoch: bool = True):
        if not 0 <= rank < world_size:
            raise ValueError(f"EpochIndexSampler: rank {rank} outside world size {world_size}")
        self.per_rank = math.ceil(num_samples / world_size)
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.shuffle, self.vary_by_epoch = shuffle, vary_by_epoch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch if self.vary_by_epoch else 0
        total = self.per_rank * self.world_size
        order = np.random.default_rng([self.seed, epoch]).permutation(total) if self.shuffle else np.arange(total)
        for index in order[self.rank::self.world_size].tolist():
            yield epoch, index


class TrackingLoader(DataLoader):
    """A DataLoader with the attributes the trainer reads: name, training, epoch_interval, stack_dim."""

    def __init__(self, name: str, dataset: TrackingSampler, training: bool, epoch_interval: int = 1,
                 stack_dim: int = 1, **kwargs):
        if stack_dim != 1:
            raise ValueError("TrackingLoader: only stack_dim=1 is implemented (the layout the actors expect)")
        super().__init__(dataset, collate_fn=collate_stack1, **kwargs)
        self.name = name
        self.training = training
        self.epoch_interval = epoch_interval
        self.stack_dim = stack_dim

    def set_epoch(self, epoch: int) -> None:
        for obj in (self.sampler, self.dataset):
            if hasattr(obj, "set_epoch"):
                obj.set_epoch(epoch)


def _init_worker(worker_id: int) -> None:
    """Seed stray global generators per worker (samples use their own) and keep OpenCV single-threaded."""
    seed = torch.initial_seed() % 2 ** 32
    random.seed(seed)
    np.random.seed(seed)
    cv2.setNumThreads(1)


# ---------------------------------------------------------------------------------------------------- builders
def build_transforms(mean: Sequence[float], std: Sequence[float], training: bool,
                     grayscale_probability: float = OFFICIAL_AUGMENT["grayscale_probability"],
                     flip_probability: float = OFFICIAL_AUGMENT["flip_probability"],
                     brightness_jitter: float = OFFICIAL_AUGMENT["brightness_jitter"],
                     crop_flip_probability: float = OFFICIAL_AUGMENT["crop_flip_probability"]
                     ) -> tuple[Compose, dict]:
    """Official transforms: (joint, {'template': per-crop, 'search': per-crop}); validation has no jitter/flip
    per crop but keeps the joint transforms, as the official validation does. A family changes the strengths
    through data_options['transforms'] (a probability of 0 leaves that transform out)."""
    joint = Compose(*[t for t, p in ((ToGrayscale(grayscale_probability), grayscale_probability),
                                     (RandomHorizontalFlip(flip_probability), flip_probability)) if p > 0])
    if training:
        per_crop = Compose(ToTensorAndJitter(brightness_jitter),
                           *([RandomHorizontalFlip_Norm(crop_flip_probability)] if crop_flip_probability > 0 else []),
                           Normalize(mean, std))
    else:
        per_crop = Compose(ToTensor(), Normalize(mean, std))
    return joint, {"template": per_crop, "search": per_crop}


def _checked_kwargs(target: Callable, defaults: dict, extras: Mapping, where: str) -> dict:
    function = target.__init__ if isinstance(target, type) else target
    valid = set(inspect.signature(function).parameters) - {"self"}
    unknown = sorted(set(extras) - valid)
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {unknown} for {target.__name__}; valid: {sorted(valid)}")
    return {**defaults, **extras}


def build_processing(cfg, training: bool, extras: Mapping | None = None,
                     transform_options: Mapping | None = None) -> TrackingProcessing:
    """TrackingProcessing from DATA.TEMPLATE/SEARCH.{FACTOR,SIZE,CENTER_JITTER,SCALE_JITTER} and the per-channel
    normalisation DATA.MEAN/STD (+ DATA.AUX)."""
    data = cfg.DATA
    mean, std = input_normalisation(data)
    if {"mean", "std", "training"} & set(transform_options or {}):
        raise ValueError("data_options['transforms']: the normalisation comes from DATA.MEAN/STD and DATA.AUX")
    transform_kwargs = _checked_kwargs(build_transforms, {"mean": mean, "std": std, "training": training},
                                       transform_options or {}, "data_options['transforms']")
    joint, per_crop = build_transforms(**transform_kwargs)
    parts = {"template": data.TEMPLATE, "search": data.SEARCH}
    defaults = {
        "search_area_factor": {k: float(v.FACTOR) for k, v in parts.items()},
        "output_sz": {k: int(v.SIZE) for k, v in parts.items()},
        "center_jitter_factor": {k: float(v.CENTER_JITTER) for k, v in parts.items()},
        "scale_jitter_factor": {k: float(v.SCALE_JITTER) for k, v in parts.items()},
        "transform": per_crop,
        "joint_transform": joint,
    }
    return TrackingProcessing(**_checked_kwargs(TrackingProcessing, defaults, extras or {},
                                                "data_options['processing']"))


def build_sampler(cfg, split, datasets: list, processing: TrackingProcessing, seed: int,
                  extras: Mapping | None = None) -> TrackingSampler:
    """TrackingSampler for a DATA.TRAIN / DATA.VAL `split` from DATA.MAX_SAMPLE_INTERVAL, SAMPLER_MODE, NUMBER."""
    if len(split.DATASETS_RATIO) != len(split.DATASETS_NAME):
        raise ValueError(f"DATASETS_RATIO {list(split.DATASETS_RATIO)} needs one ratio per entry of DATASETS_NAME "
                         f"{list(split.DATASETS_NAME)}")
    defaults = {
        "datasets": datasets,
        "p_datasets": list(split.DATASETS_RATIO),
        "samples_per_epoch": int(split.SAMPLE_PER_EPOCH),
        "max_gap": cfg.DATA.MAX_SAMPLE_INTERVAL,
        "num_search_frames": int(cfg.DATA.SEARCH.NUMBER),
        "num_template_frames": int(cfg.DATA.TEMPLATE.NUMBER),
        "processing": processing,
        "frame_sample_mode": cfg.DATA.SAMPLER_MODE,
        "seed": seed,
    }
    return TrackingSampler(**_checked_kwargs(TrackingSampler, defaults, extras or {}, "data_options['sampler']"))


OPTION_SECTIONS = ("sampler", "processing", "transforms")


def _options(data_options: Mapping | None) -> tuple[dict, dict, dict]:
    data_options = dict(data_options or {})
    unknown = sorted(set(data_options) - set(OPTION_SECTIONS))
    if unknown:
        raise ValueError(f"data_options: unknown section(s) {unknown}; expected some of {list(OPTION_SECTIONS)}")
    return tuple(dict(data_options.get(section) or {}) for section in OPTION_SECTIONS)


def _build_loader(name: str, cfg, split, settings, options: tuple[dict, dict, dict], rank: int, world_size: int,
                  training: bool) -> TrackingLoader:
    from lib.train.dataset.catalog import build_train_dataset
    from lib.utils.image_io import imread_rgb

    sampler_options, processing_options, transform_options = options
    datasets = [build_train_dataset(dataset_name, imread_rgb, settings.use_lmdb, settings)
                for dataset_name in split.DATASETS_NAME]
    seed = int(settings.seed) + (0 if training else 1)
    processing = build_processing(cfg, training, processing_options, transform_options)
    sampler = build_sampler(cfg, split, datasets, processing, seed, sampler_options)
    index_sampler = EpochIndexSampler(sampler.samples_per_epoch, rank, world_size, seed, shuffle=training,
                                      vary_by_epoch=training)
    batch_size = int(cfg.TRAIN.BATCH_SIZE)
    if len(index_sampler) < batch_size:
        raise ValueError(f"DATA.{name.upper()}.SAMPLE_PER_EPOCH ({sampler.samples_per_epoch}) over {world_size} "
                         f"process(es) gives {len(index_sampler)} samples per process, fewer than one batch "
                         f"(TRAIN.BATCH_SIZE {batch_size})")
    num_workers = int(cfg.TRAIN.NUM_WORKER)
    generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, rank]).generate_state(1)[0]))
    return TrackingLoader(name, sampler, training=training,
                          epoch_interval=1 if training else int(cfg.TRAIN.VAL_EPOCH_INTERVAL),
                          batch_size=batch_size, sampler=index_sampler, num_workers=num_workers, drop_last=True,
                          pin_memory=torch.cuda.is_available(), persistent_workers=num_workers > 0,
                          worker_init_fn=_init_worker if num_workers > 0 else None, generator=generator)


def build_dataloaders(cfg, settings, data_options: Mapping | None, rank: int, world_size: int
                      ) -> tuple[TrackingLoader, TrackingLoader | None]:
    """(train loader, validation loader or None when DATA.VAL.DATASETS_NAME is empty) for this rank.

    settings: needs use_lmdb, env (dataset paths, read by the catalog) and seed.
    """
    options = _options(data_options)
    train = _build_loader("train", cfg, cfg.DATA.TRAIN, settings, options, rank, world_size, training=True)
    val = None
    if cfg.DATA.VAL.DATASETS_NAME:
        val = _build_loader("val", cfg, cfg.DATA.VAL, settings, options, rank, world_size, training=False)
    return train, val
