"""Multi-modal training readers (DepthTrack_train, LasHeR_train, VisEvent): the names of the official SDSTrack
configs resolve to them; they return the boxes, valid/visible masks and HxWx6 frames of hand-written sequences,
also through the real sampler and processing of an SDSTrack config."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib.families import load_config
from lib.train.data.loader import build_processing
from lib.train.data.sampler import TrackingSampler
from lib.train.dataset.catalog import build_train_dataset, train_dataset_names
from lib.utils.modalities import depth_colormap
from tests.data.fixture_writers import (AUX_LEVEL_OFFSET, MM_SIZE, depth_ramp, frame_level, gray_level,
                                        isolated_settings, write_rgbd_sequence, write_rgbe_sequence,
                                        write_rgbt_sequence, write_text)

NAN = np.nan
FRAMES = 24  # the sampler draws sequences of at least 20 frames
# boxes of the hand-written sequences: frame 1 absent (as each dataset marks it), frame 2 below DepthTrack's and
# VisEvent's minimum size (valid needs w, h > 10 and > 5 there; > 0 for LasHeR)
BOXES = ["2,0,12,11", None, "3,2,4,4", "2,1,12,11", "1,0,13,11"] + ["2,0,12,11"] * (FRAMES - 5)


def _gt(absent: str) -> str:
    return "".join(f"{absent if b is None else b}\n" for b in BOXES)


def _depthtrack(data: Path) -> str:
    write_rgbd_sequence(data / "depthtrack" / "train" / "adapter02_indoor", _gt("nan,nan,nan,nan"), FRAMES)
    return "DepthTrack_train"


def _lasher(data: Path) -> str:
    root = data / "lasher" / "trainingset"
    write_rgbt_sequence(root / "leftgirl'swhitebag", _gt("0,0,0,0"), _gt("0,0,0,0"),
                        [f"v{k:03d}.jpg" for k in range(FRAMES)], [f"i{k:03d}.jpg" for k in range(FRAMES)])
    write_text(root / "trainingsetList.txt", "leftgirl'swhitebag\n")
    return "LasHeR_train"


def _visevent(data: Path) -> str:
    root = data / "visevent" / "train"
    write_rgbe_sequence(root / "00141_tank_outdoor2", _gt("2,0,12,11"), "1\n0\n" + "1\n" * (FRAMES - 2),
                        [f"{k:05d}.bmp" for k in range(FRAMES)])
    write_text(root / "trainlist.txt", "00141_tank_outdoor2\n")
    return "VisEvent"


CASES = {
    "DepthTrack_train": (_depthtrack, [True, False, False] + [True] * (FRAMES - 3), "depth"),
    "LasHeR_train": (_lasher, [True, False] + [True] * (FRAMES - 2), "image"),
    "VisEvent": (_visevent, [True, False, False] + [True] * (FRAMES - 3), "image"),
}


@pytest.mark.parametrize("config", ["cvpr2024_rgbd", "cvpr2024_rgbt", "cvpr2024_rgbe"])
def test_the_official_config_dataset_names_are_registered(config):
    cfg = load_config("sdstrack", config)
    names = [n for n in list(cfg.DATA.TRAIN.DATASETS_NAME) + list(cfg.DATA.VAL.DATASETS_NAME) if n]
    assert names and set(names) <= set(train_dataset_names())


@pytest.mark.parametrize("name", list(CASES))
def test_training_reader_returns_the_hand_written_sequence(tmp_path, name):
    write, visible, aux_kind = CASES[name]
    write(tmp_path)
    dataset = build_train_dataset(name, settings=isolated_settings(tmp_path))
    assert dataset.get_num_sequences() == 1
    info = dataset.get_sequence_info(0)
    expected = [[NAN] * 4 if b is None and name == "DepthTrack_train" else
                [0, 0, 0, 0] if b is None and name == "LasHeR_train" else
                [float(v) for v in (b or "2,0,12,11").split(",")] for b in BOXES]
    np.testing.assert_array_equal(info["bbox"].numpy(), np.array(expected, np.float32))
    assert info["visible"].tolist() == visible
    frames, anno, _ = dataset.get_frames(0, [4, 0], info)
    for frame, k in zip(frames, (4, 0)):
        assert frame.shape == (MM_SIZE[1], MM_SIZE[0], 6) and frame.dtype == np.uint8
        assert frame_level(frame[..., :3]) == k
        if aux_kind == "depth":
            np.testing.assert_array_equal(frame[..., 3:], depth_colormap(depth_ramp(k)))
        else:
            assert abs(float(frame[..., 3:].mean()) - gray_level(k + AUX_LEVEL_OFFSET)) < 2
    assert [b.tolist() for b in anno["bbox"]] == [expected[4], expected[0]]


@pytest.mark.parametrize("name", list(CASES))
def test_one_sample_through_the_real_sampler_has_six_channels(tmp_path, name):
    CASES[name][0](tmp_path)
    cfg = load_config("sdstrack", "tiny_rgbd")
    dataset = build_train_dataset(name, settings=isolated_settings(tmp_path))
    sampler = TrackingSampler([dataset], None, 1, 3, 1, 1, build_processing(cfg, True), "causal", seed=0)
    sample = sampler[(0, 0)]
    assert sample["template_images"].shape == (1, 6, cfg.DATA.TEMPLATE.SIZE, cfg.DATA.TEMPLATE.SIZE)
    assert sample["search_images"].shape == (1, 6, cfg.DATA.SEARCH.SIZE, cfg.DATA.SEARCH.SIZE)
    # the auxiliary channels carry the auxiliary image, not a copy of the RGB one
    assert not np.allclose(sample["search_images"][:, 3:].numpy(), sample["search_images"][:, :3].numpy())


def test_training_frames_pair_by_number_not_by_the_official_glob(tmp_path):
    root = tmp_path / "lasher" / "trainingset"
    names = [f"{k:06d}.jpg" for k in range(12)]
    write_rgbt_sequence(root / "boywalkinginsnow3", "2,2,12,9\n" * 12, None, names, [f"i{n}" for n in names])
    dataset = build_train_dataset("LasHeR_train", settings=isolated_settings(tmp_path))
    frames, _, _ = dataset.get_frames(0, [1, 11])
    assert [frame_level(f[..., :3]) for f in frames] == [1, 11 % 8]
    assert [frame_level(f[..., 3:]) for f in frames] == [(1 + AUX_LEVEL_OFFSET) % 8, (11 + AUX_LEVEL_OFFSET) % 8]

