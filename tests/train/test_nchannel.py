"""N-channel frames (RGB + depth/thermal/event, HxWx6) end to end: transforms, processing, sampler + loader, and
the test-time preprocessor, with per-modality normalisation from DATA.MEAN/STD and DATA.AUX. The RGB part of a
6-channel sample equals what the 3-channel pipeline makes of the RGB frames alone."""
import random

import numpy as np
import pytest
import torch

from lib.config.defaults import get_default_config, input_channels, input_normalisation
from lib.config.node import ConfigError
from lib.test.tracker.utils import Preprocessor
from lib.train.data.loader import build_processing, collate_stack1
from lib.train.data.sampler import TrackingSampler
from lib.train.data.transforms import (Compose, CropRecord, Normalize, RandomHorizontalFlip_Norm, ToTensorAndJitter,
                                       render)
from tests.train.test_loader import FakeFrames

AUX_MEAN, AUX_STD = [0.5, 0.4, 0.3], [0.25, 0.2, 0.1]


def six_channel_cfg():
    cfg = get_default_config()
    cfg.DATA.AUX.MODALITY = "depth"
    cfg.DATA.AUX.MEAN, cfg.DATA.AUX.STD = list(AUX_MEAN), list(AUX_STD)
    cfg.DATA.SEARCH.SIZE, cfg.DATA.TEMPLATE.SIZE = 32, 16
    return cfg


class SixChannelFrames(FakeFrames):
    """FakeFrames plus an auxiliary 3-channel map (a gradient, different from the RGB content)."""

    def get_frames(self, seq_id, frame_ids, anno):
        frames, boxes, meta = super().get_frames(seq_id, frame_ids, anno)
        height, width = frames[0].shape[:2]
        aux = np.broadcast_to((np.arange(width, dtype=np.uint8) * 3)[None, :, None], (height, width, 3))
        return [np.concatenate([f, aux], axis=2) for f in frames], boxes, meta


def test_normalisation_groups_come_from_the_config():
    cfg = six_channel_cfg()
    mean, std = input_normalisation(cfg.DATA)
    assert mean == list(cfg.DATA.MEAN) + AUX_MEAN and std == list(cfg.DATA.STD) + AUX_STD
    assert input_channels(cfg.DATA) == 6 and input_channels(get_default_config().DATA) == 3
    cfg.DATA.AUX.STD = [0.2]
    with pytest.raises(ConfigError, match="DATA.AUX"):
        input_normalisation(cfg.DATA)
    cfg = get_default_config()
    cfg.DATA.AUX.MEAN, cfg.DATA.AUX.STD = [0.5], [0.5]  # channels without a named modality
    with pytest.raises(ConfigError, match="MODALITY"):
        input_normalisation(cfg.DATA)


def test_render_normalises_each_group_and_greys_only_rgb():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 8, 6), dtype=np.uint8)
    mean, std = [0.485, 0.456, 0.406] + AUX_MEAN, [0.229, 0.224, 0.225] + AUX_STD
    for grayscale in (False, True):
        six = CropRecord(image, (0.1, 0.1, 0.5, 0.5), np.zeros((8, 8), bool), grayscale=grayscale)
        three = CropRecord(np.ascontiguousarray(image[:, :, :3]), (0.1, 0.1, 0.5, 0.5), np.zeros((8, 8), bool),
                           grayscale=grayscale)
        Compose(ToTensorAndJitter(0.2), RandomHorizontalFlip_Norm(1.0), Normalize(mean, std))(six, random.Random(3))
        Compose(ToTensorAndJitter(0.2), RandomHorizontalFlip_Norm(1.0), Normalize(mean[:3], std[:3]))(
            three, random.Random(3))
        out6, out3 = np.empty((6, 8, 8), np.float32), np.empty((3, 8, 8), np.float32)
        render(six, out6)
        render(three, out3)
        assert np.array_equal(out6[:3], out3)
        # Auxiliary channels: flipped and brightness-scaled like RGB, never greyed, normalised by their own stats.
        level = np.minimum(image[:, ::-1, 3:].astype(np.float32) * np.float32(six.brightness / 255.0), 1.0)
        expected = (level.transpose(2, 0, 1) - np.float32(AUX_MEAN)[:, None, None]) / np.float32(AUX_STD)[:, None,
                                                                                                             None]
        np.testing.assert_allclose(out6[3:], expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="6 channels but Normalize gives 3"):
        record = CropRecord(image, (0, 0, 1, 1), np.zeros((8, 8), bool))
        Normalize(mean[:3], std[:3])(record, random.Random(0))
        render(record, np.empty((6, 8, 8), np.float32))


def test_processing_of_six_channel_frames_keeps_the_rgb_result():
    cfg, rgb_cfg = six_channel_cfg(), six_channel_cfg()
    rgb_cfg.DATA.AUX.MODALITY, rgb_cfg.DATA.AUX.MEAN, rgb_cfg.DATA.AUX.STD = "", [], []
    six = SixChannelFrames("d")
    info = six.get_sequence_info(1)
    valid = 0
    for seed in range(12):  # covers grey, mirrored, flipped and rejected samples
        data = {}
        for part, ids in (("template", [3]), ("search", [7, 9])):
            frames, anno, _ = six.get_frames(1, ids, info)
            data[f"{part}_images"], data[f"{part}_anno"] = frames, anno["bbox"]
        rgb = {k: ([f[:, :, :3] for f in v] if k.endswith("images") else v) for k, v in data.items()}
        out6 = build_processing(cfg, True)(data, random.Random(seed))
        out3 = build_processing(rgb_cfg, True)(rgb, random.Random(seed))
        assert out6["valid"] == out3["valid"]
        if not out3["valid"]:
            continue
        valid += 1
        assert out6["search_images"].shape == (2, 6, 32, 32) and out6["template_images"].shape == (1, 6, 16, 16)
        for key in ("template", "search"):
            assert torch.equal(out6[f"{key}_images"][:, :3], out3[f"{key}_images"])
            assert torch.equal(out6[f"{key}_anno"], out3[f"{key}_anno"])
            assert torch.equal(out6[f"{key}_att"], out3[f"{key}_att"])
    assert valid >= 4


def test_sampler_and_collate_deliver_six_channel_batches():
    cfg = six_channel_cfg()
    sampler = TrackingSampler([SixChannelFrames("d")], None, 4, 10, 1, 1, build_processing(cfg, True), "causal",
                              seed=1)
    batch = collate_stack1([sampler[(0, i)] for i in range(4)])
    assert batch["template_images"].shape == (1, 4, 6, 16, 16)
    assert batch["search_images"].shape == (1, 4, 6, 32, 32)
    assert torch.isfinite(batch["search_images"]).all()


def test_transform_strengths_are_chosen_through_data_options():
    cfg = get_default_config()
    processing = build_processing(cfg, True, transform_options={"grayscale_probability": 0.0,
                                                                "brightness_jitter": 0.5})
    assert "ToGrayscale" not in repr(processing.joint_transform)
    assert "ToTensorAndJitter(0.5)" in repr(processing.transform["search"])
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['blur'\]"):
        build_processing(cfg, True, transform_options={"blur": 1.0})
    with pytest.raises(ValueError, match="DATA.MEAN/STD"):
        build_processing(cfg, True, transform_options={"mean": [0, 0, 0]})


def test_preprocessor_takes_every_channel_with_its_statistics():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (5, 7, 6), dtype=np.uint8)
    mean, std = [0.485, 0.456, 0.406] + AUX_MEAN, [0.229, 0.224, 0.225] + AUX_STD
    tensor, _ = Preprocessor(mean, std)(image)
    expected = ((image / 255.0 - np.array(mean)) / np.array(std)).transpose(2, 0, 1)[None]
    assert tensor.shape == (1, 6, 5, 7) and np.allclose(tensor.numpy(), expected, atol=1e-5)
    with pytest.raises(ValueError, match="HxWx6"):
        Preprocessor(mean, std)(image[:, :, :3].copy())
