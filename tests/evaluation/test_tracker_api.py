"""Tracker API: Hann windows, preprocessing, parameters, the generic network tracker, the baselines."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.nn as nn

from lib import families
from lib.config.node import CfgNode
from lib.families import Family, get_tracker_family
from lib.test.parameter import MissingCheckpointError, TrackerParams
from lib.test.tracker.base import NetworkTracker, clear_network_cache
from lib.test.tracker.utils import Preprocessor, hann1d, hann2d
from lib.utils.cli import UserError

# ---------------------------------------------------------------- windows and preprocessing


def test_hann_windows_by_hand():
    # size 3: k = 1, 2, 3 -> 0.5 * (1 - cos(pi/2, pi, 3pi/2)) = 0.5, 1, 0.5
    assert torch.allclose(hann1d(3), torch.tensor([0.5, 1.0, 0.5]), atol=1e-6)
    # size 2: cos(2pi/3) = cos(4pi/3) = -0.5 -> 0.75, 0.75
    assert torch.allclose(hann1d(2), torch.tensor([0.75, 0.75]), atol=1e-6)
    window = hann2d(3)
    assert window.shape == (1, 1, 3, 3)
    expected = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])
    assert torch.allclose(window[0, 0], expected, atol=1e-6)
    rect = hann2d((2, 3))
    assert rect.shape == (1, 1, 2, 3)
    assert torch.allclose(rect[0, 0], torch.tensor([[0.375, 0.75, 0.375]] * 2), atol=1e-6)


def test_preprocessor_normalises_like_numpy():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    tensor, mask = Preprocessor(mean, std)(image)
    expected = ((image / 255.0 - np.array(mean)) / np.array(std)).transpose(2, 0, 1)[None]
    assert mask is None and tensor.shape == (1, 3, 5, 7) and tensor.dtype == torch.float32
    assert np.allclose(tensor.numpy(), expected, atol=1e-5)
    pad = np.zeros((5, 7), bool)
    pad[:, -2:] = True
    _, mask = Preprocessor(mean, std)(image, pad)
    assert mask.shape == (1, 5, 7) and mask.dtype == torch.bool and mask[0, 0, -1] and not mask[0, 0, 0]
    with pytest.raises(ValueError, match="uint8"):
        Preprocessor(mean, std)(image.astype(np.float32))


# ---------------------------------------------------------------- a fake network family


def add_config(cfg: CfgNode, script: str) -> None:
    cfg.MODEL.HIDDEN = 4


class ConstantBoxNet(nn.Module):
    """Predicts `head.bias` as the normalised box, whatever the crops (so the mapping can be checked)."""

    builds = 0

    def __init__(self, hidden: int):
        super().__init__()
        ConstantBoxNet.builds += 1
        self.head = nn.Linear(hidden, 4)

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.head.bias + 0 * (template.mean() + search.mean())


def build_model(cfg: CfgNode, training: bool) -> nn.Module:
    return ConstantBoxNet(cfg.MODEL.HIDDEN)


def adapt_state_dict(state: dict) -> dict:
    return {k.replace("old_head.", "head."): v for k, v in state.items()}


class ConstantBoxTracker(NetworkTracker):
    def forward_search(self, search):
        return self.net(self.state.template.tensor, search.tensor)

    def decode_box(self, out, search):
        return out, {"score": 1.0}


def build_tracker(params):
    return ConstantBoxTracker(params)


FAKE_NET = Family(name="fakenet", scripts={"fakenet": "FAKENET"}, trackers={"fakenet_t": "fakenet"},
                  add_config=add_config, build_model=build_model, build_tracker=build_tracker,
                  adapt_state_dict=adapt_state_dict)

CONFIG = """MODEL:
  HIDDEN: 4
TEST:
  EPOCH: 5
  TEMPLATE_FACTOR: 2.0
  TEMPLATE_SIZE: 16
  SEARCH_FACTOR: 4.0
  SEARCH_SIZE: 64
"""


@pytest.fixture
def fake_net(tmp_path):
    families.register(FAKE_NET)
    clear_network_cache()
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG)
    yield str(config)
    clear_network_cache()
    families.unregister(FAKE_NET.name)


def save_official_style_checkpoint(path, box):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    state = {"old_head.weight": torch.zeros(4, 4), "old_head.bias": torch.tensor(box)}
    torch.save({"net": state, "epoch": 5}, path)


def test_default_checkpoint_path_and_missing_error(tmp_path, fake_net):
    expected = tmp_path / "checkpoints" / "train" / "fakenet" / "tiny" / "FAKENET_ep0005.pth.tar"
    with pytest.raises(MissingCheckpointError) as error:
        TrackerParams.create("fakenet_t", fake_net, save_dir=str(tmp_path))
    assert str(expected) in str(error.value)
    save_official_style_checkpoint(str(expected), [0.5, 0.5, 0.5, 0.5])
    params = TrackerParams.create("fakenet_t", fake_net, save_dir=str(tmp_path), dataset_name="lasot")
    assert params.checkpoint == str(expected) and params.train_script == "fakenet"
    assert (params.template_factor, params.template_size, params.search_factor, params.search_size) == \
        (2.0, 16, 4.0, 64)
    assert params.config_name == "tiny" and params.dataset_name == "lasot"
    assert TrackerParams.create("fakenet_t", fake_net, load_weights=False).checkpoint is None


def test_network_tracker_maps_prediction_back(tmp_path, fake_net):
    ckpt = str(tmp_path / "w.pth.tar")
    save_official_style_checkpoint(ckpt, [0.75, 0.5, 0.5, 0.25])
    params = TrackerParams.create("fakenet_t", fake_net, checkpoint=ckpt)
    ConstantBoxNet.builds = 0
    image = np.zeros((128, 128, 3), np.uint8)
    tracker = params.family.build_tracker(params)
    assert tracker.initialize(image, {"init_bbox": [20, 10, 16, 16]}) is None
    # Frame 1: crop side ceil(16 * 4) = 64 = SEARCH_SIZE -> resize factor 1; the crop box (48, 32, 32, 16)
    # is relative to the crop's corner, which sits at previous centre (28, 18) - 32 -> centre (44, 18).
    out = tracker.track(image)
    assert out["score"] == 1.0
    assert np.allclose(out["target_bbox"], [28, 10, 32, 16])
    # Frame 2: side ceil(sqrt(512) * 4) = 91 -> factor 64/91; (48, 32, 32, 16) * 91/64 = (68.25, 45.5, 45.5,
    # 22.75); half side 45.5; centre (68.25 + 44 - 45.5, 45.5 + 18 - 45.5) = (66.75, 18).
    assert np.allclose(tracker.track(image)["target_bbox"], [44, 6.625, 45.5, 22.75])
    # Frame 3 in a 60x40 frame: side ceil(sqrt(45.5 * 22.75) * 4) = 129; (48, 32, 32, 16) * 129/64 =
    # (96.75, 64.5, 64.5, 32.25) -> box (66.75, 1.875, 64.5, 32.25), which leaves the frame: clipped to
    # x1 <= W - 10 = 50, x2 <= 60.
    assert np.allclose(tracker.track(np.zeros((40, 60, 3), np.uint8))["target_bbox"], [50, 1.875, 10, 32.25])
    # A second tracker (next sequence) reuses the network: built once per process.
    params.family.build_tracker(params)
    assert ConstantBoxNet.builds == 1
    assert not tracker.net.training


def test_network_tracker_strict_load(tmp_path, fake_net):
    ckpt = str(tmp_path / "bad.pth.tar")
    torch.save({"net": {"old_head.bias": torch.zeros(4)}}, ckpt)
    params = TrackerParams.create("fakenet_t", fake_net, checkpoint=ckpt)
    with pytest.raises(RuntimeError, match="head.weight"):
        params.family.build_tracker(params)


# ---------------------------------------------------------------- baselines


def moving_square(frames=6):
    """A bright textured 16x16 square moving 3 px right per frame over a dark textured background."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 60, (60, 80, 3), dtype=np.uint8)
    texture = rng.integers(120, 256, (16, 16, 3), dtype=np.uint8)
    images = []
    for i in range(frames):
        image = background.copy()
        image[20:36, 10 + 3 * i:26 + 3 * i] = texture
        images.append(image)
    return images


def test_hold_baseline_holds_the_first_box():
    params = TrackerParams.create("hold", "default")
    assert params.cfg is None and params.checkpoint is None
    tracker = params.family.build_tracker(params)
    images = moving_square()
    tracker.initialize(images[0], {"init_bbox": [10, 20, 16, 16]})
    assert all(tracker.track(im)["target_bbox"] == [10.0, 20.0, 16.0, 16.0] for im in images[1:])
    # A baseline declares only what it has: a tracker, no config or network.
    assert params.family.build_model is None and params.family.add_config is None


def test_opencv_baseline_tracks_a_few_frames():
    from lib.families.opencv.tracker import available_algorithms

    assert "mil" in available_algorithms()
    family, script = get_tracker_family("opencv")
    assert script == ""
    params = TrackerParams.create("opencv", "mil")
    tracker = family.build_tracker(params)
    images = moving_square()
    tracker.initialize(images[0], {"init_bbox": [10, 20, 16, 16]})
    boxes = [tracker.track(im)["target_bbox"] for im in images[1:]]
    assert all(len(b) == 4 and all(isinstance(v, float) for v in b) for b in boxes)
    assert boxes[-1][0] > 10  # it follows the square to the right
    with pytest.raises(UserError, match="opencv no_such_algorithm: .*available here: .*mil"):
        family.build_tracker(TrackerParams.create("opencv", "no_such_algorithm"))
