"""Collate, per-rank index sampler and build_dataloaders (with a stand-in dataset catalog)."""
import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lib.config.defaults import get_default_config
from lib.train.data.loader import (EpochIndexSampler, TrackingLoader, build_dataloaders, collate_stack1)
from lib.train.data.sampler import TrackingSampler


class FakeFrames:
    """Video dataset whose frames show a bright box on a dark background (BaseVideoDataset API)."""

    def __init__(self, name, num_sequences=3, length=30):
        self.name, self.num_sequences, self.length = name, num_sequences, length

    def get_name(self):
        return self.name

    def is_video_sequence(self):
        return True

    def get_num_sequences(self):
        return self.num_sequences

    def get_sequence_info(self, seq_id):
        boxes = torch.tensor([[20.0 + seq_id, 15.0, 16.0, 12.0]]).repeat(self.length, 1)
        visible = torch.ones(self.length, dtype=torch.bool)
        return {"bbox": boxes, "valid": visible, "visible": visible}

    def get_frames(self, seq_id, frame_ids, anno):
        frames = []
        for fid in frame_ids:
            frame = np.full((48, 64, 3), fid, np.uint8)
            frame[15:27, 20 + seq_id:36 + seq_id] = 250
            frames.append(frame)
        return frames, {"bbox": [anno["bbox"][f] for f in frame_ids]}, {"object_class_name": None}


def _sample(i):
    return {"template_images": torch.full((2, 3, 4, 4), float(i)), "search_anno": torch.full((1, 4), float(i)),
            "search_att": torch.zeros(1, 4, 4, dtype=torch.bool), "label": torch.tensor([float(i)]),
            "scalar": torch.tensor(float(i)), "valid": True, "dataset": "got10k", "test_class": None,
            "array": np.full((1, 2), i, np.float32)}


def test_collate_stacks_along_dim_one():
    batch = collate_stack1([_sample(i) for i in range(3)])
    assert batch["template_images"].shape == (2, 3, 3, 4, 4)
    assert torch.equal(batch["template_images"][1, 2], torch.full((3, 4, 4), 2.0))  # (frame, batch) order
    assert batch["search_anno"].shape == (1, 3, 4) and batch["search_att"].dtype == torch.bool
    assert batch["label"].shape == (1, 3) and batch["scalar"].shape == (3,)
    assert batch["array"].shape == (1, 3, 2)
    assert torch.equal(batch["valid"], torch.tensor([True, True, True]))
    assert batch["dataset"] == ["got10k"] * 3 and batch["test_class"] == [None] * 3


def test_index_sampler_splits_ranks_and_reshuffles_per_epoch():
    ranks = [EpochIndexSampler(10, rank, 3, seed=1) for rank in range(3)]
    for s in ranks:
        s.set_epoch(4)
    shares = [list(s) for s in ranks]
    assert all(len(share) == len(s) == 4 for share, s in zip(shares, ranks))
    indices = [i for share in shares for _, i in share]
    assert sorted(indices) == list(range(12)) and {e for share in shares for e, _ in share} == {4}
    ranks[0].set_epoch(5)
    assert [i for _, i in ranks[0]] != [i for _, i in shares[0]]
    fixed = EpochIndexSampler(6, shuffle=False, vary_by_epoch=False)
    fixed.set_epoch(9)
    assert list(fixed) == [(0, i) for i in range(6)]
    with pytest.raises(ValueError, match="rank 2 outside world size 2"):
        EpochIndexSampler(6, 2, 2)


def _tracking_sampler():
    from lib.train.data.loader import build_processing

    return TrackingSampler([FakeFrames("a")], None, 8, 10, 1, 1, build_processing(_cfg(), True), "causal", seed=5)


def test_worker_processes_return_the_same_batches_as_the_main_process():
    def batches(workers):
        loader = TrackingLoader("train", _tracking_sampler(), training=True, batch_size=4,
                                sampler=EpochIndexSampler(8, seed=2), num_workers=workers, drop_last=True)
        loader.set_epoch(3)
        return list(loader)

    single, parallel = batches(0), batches(2)
    assert len(single) == len(parallel) == 2
    for a, b in zip(single, parallel):
        assert torch.equal(a["search_images"], b["search_images"]) and torch.equal(a["search_anno"], b["search_anno"])
        assert a["search_images"].shape == (1, 4, 3, 64, 64)


# ------------------------------------------------------------------------------------------------ builder
def _cfg(**overrides):
    cfg = get_default_config()
    values = {"DATA": {"TRAIN": {"DATASETS_NAME": ["A", "B"], "DATASETS_RATIO": [1, 1], "SAMPLE_PER_EPOCH": 8},
                       "VAL": {"DATASETS_NAME": [], "DATASETS_RATIO": [], "SAMPLE_PER_EPOCH": 4},
                       "TEMPLATE": {"SIZE": 32}, "SEARCH": {"SIZE": 64, "FACTOR": 4.0, "CENTER_JITTER": 3.0,
                                                           "SCALE_JITTER": 0.25},
                       "MAX_SAMPLE_INTERVAL": 10},
              "TRAIN": {"BATCH_SIZE": 2, "NUM_WORKER": 0, "VAL_EPOCH_INTERVAL": 5}}
    for section, content in overrides.items():
        for key, value in content.items():
            values[section][key] = {**values[section].get(key, {}), **value} if isinstance(value, dict) else value
    cfg.merge_from_dict(values)
    return cfg


@pytest.fixture
def catalog(monkeypatch):
    built = []

    def build_train_dataset(name, image_loader, use_lmdb, settings):
        assert callable(image_loader) and use_lmdb is False
        built.append(name)
        return FakeFrames(name)

    module = types.ModuleType("lib.train.dataset.catalog")
    module.build_train_dataset = build_train_dataset
    monkeypatch.setitem(sys.modules, "lib.train.dataset.catalog", module)
    return built


SETTINGS = SimpleNamespace(use_lmdb=False, env=None, seed=0)


def test_build_dataloaders_reads_the_config(catalog):
    train, val = build_dataloaders(_cfg(), SETTINGS, {}, rank=0, world_size=1)
    assert val is None and catalog == ["A", "B"]
    assert train.training and train.name == "train" and len(train) == 4 and train.drop_last
    batch = next(iter(train))
    assert batch["template_images"].shape == (1, 2, 3, 32, 32) and batch["search_images"].shape == (1, 2, 3, 64, 64)
    assert batch["search_att"].shape == (1, 2, 64, 64) and "search_label" not in batch
    assert set(batch["dataset"]) <= {"A", "B"}


def test_samples_per_epoch_is_split_over_ranks(catalog):
    loaders = [build_dataloaders(_cfg(), SETTINGS, {}, rank, 2)[0] for rank in range(2)]
    for loader in loaders:
        loader.set_epoch(1)
    assert [len(loader) for loader in loaders] == [2, 2]
    shares = [set(loader.sampler) for loader in loaders]
    assert not shares[0] & shares[1]
    with pytest.raises(ValueError, match="fewer than one batch"):
        build_dataloaders(_cfg(), SETTINGS, {}, rank=0, world_size=8)


def test_family_options_and_validation_loader(catalog):
    cfg = _cfg(DATA={"VAL": {"DATASETS_NAME": ["C"], "DATASETS_RATIO": [1]}})
    options = {"processing": {"heatmap_stride": 16, "norm_by": "out-1"}, "sampler": {"frame_sample_mode": "order"}}
    train, val = build_dataloaders(cfg, SETTINGS, options, rank=0, world_size=1)
    assert train.dataset.frame_sample_mode == "order" and train.dataset.processing.norm_by == "out-1"
    assert not val.training and val.epoch_interval == 5 and len(val) == 2
    assert next(iter(train))["search_label"].shape == (1, 2, 4, 4)
    # Validation draws the same samples whatever the epoch.
    first = next(iter(val))["search_anno"]
    val.set_epoch(7)
    assert torch.equal(next(iter(val))["search_anno"], first)


def test_bad_options_fail_with_the_valid_names(catalog):
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['heat_map'\].*heatmap_stride"):
        build_dataloaders(_cfg(), SETTINGS, {"processing": {"heat_map": 16}}, 0, 1)
    with pytest.raises(ValueError, match="unknown section"):
        build_dataloaders(_cfg(), SETTINGS, {"loader": {}}, 0, 1)
    with pytest.raises(ValueError, match="one ratio per entry"):
        build_dataloaders(_cfg(DATA={"TRAIN": {"DATASETS_RATIO": [1]}}), SETTINGS, {}, 0, 1)
