"""The OSTrack test-time tracker: Hann-windowed peak, box decoding, mapping back, and a few real frames."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from lib.families import get_family
from lib.families.ostrack.tracker import OSTrackTracker
from lib.models.heads.center import CenterPredictor
from lib.test.parameter import TrackerParams


def hann(n: int) -> torch.Tensor:
    k = torch.arange(1, n + 1, dtype=torch.float64)
    w = 0.5 * (1 - torch.cos(2 * math.pi * k / (n + 1)))
    return (w[:, None] * w[None, :]).float()


class ScriptedBackbone:
    """Records the template crops it embeds; their tokens (streams, B, L_t, C) are a stand-in of that shape."""

    def __init__(self):
        self.embedded = []

    def embed_templates(self, template: torch.Tensor) -> torch.Tensor:
        self.embedded.append(template.shape)
        return torch.zeros(1, template.shape[0], 16, 4)


class ScriptedNet(nn.Module):
    """Returns fixed maps on an 8 x 8 grid and records what the tracker feeds it."""

    def __init__(self, score: torch.Tensor, size: torch.Tensor, offset: torch.Tensor):
        super().__init__()
        self.backbone = ScriptedBackbone()
        self.box_head = CenterPredictor(inplanes=4, channel=8, feat_sz=8)
        self.maps = {"score_map": score[None, None], "size_map": size[None], "offset_map": offset[None]}
        self.calls = []

    def forward(self, template, search, ce_template_mask=None, score_only=False, template_tokens=None):
        assert template is None  # the template crop was embedded once, at initialisation
        self.calls.append((template_tokens.shape, search.shape, ce_template_mask))
        return dict(self.maps)


def frames(count: int, height: int = 200, width: int = 300) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    images = []
    for i in range(count):
        image = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
        image[80 + 2 * i:120 + 2 * i, 100 + 3 * i:140 + 3 * i] = (220, 40, 40)
        images.append(image)
    return images


def test_hann_window_moves_the_peak_and_the_box_maps_back_by_hand():
    params = TrackerParams.create("ostrack", "tiny", load_weights=False)
    score = torch.full((8, 8), 0.01)
    score[0, 0] = 0.9  # the raw maximum, on the border: the window damps it to 0.9 * hann(8)[0, 0] ~ 0.012
    score[4, 3] = 0.5  # row 4, column 3: 0.5 * ~0.94 after the window
    assert (hann(8) * score).argmax().item() == 4 * 8 + 3
    size, offset = torch.full((2, 8, 8), 0.25), torch.full((2, 8, 8), 0.5)
    net = ScriptedNet(score, size, offset)
    tracker = OSTrackTracker(params, net=net)
    image = frames(1)[0]
    tracker.initialize(image, {"init_bbox": [100, 80, 40, 40]})
    out = tracker.track(image)
    # Crop side ceil(sqrt(40 * 40) * 4) = 160 around centre (120, 100), resized to 128: factor 0.8.
    # Crop box (cx, cy, w, h) = (3.5 / 8, 4.5 / 8, .25, .25) * 128 = (56, 72, 32, 32) px -> frame / 0.8 =
    # (70, 90, 40, 40) relative to the crop origin (120 - 80, 100 - 80) -> centre (110, 110).
    assert out["target_bbox"] == pytest.approx([90.0, 90.0, 40.0, 40.0], abs=1e-4)
    tokens_shape, search_shape, mask = net.calls[-1]
    assert net.backbone.embedded == [(1, 3, 64, 64)] and tokens_shape == (1, 1, 16, 4)
    assert search_shape == (1, 3, 128, 128)
    assert mask.nonzero()[:, 1].tolist() == [5]


def test_predicted_box_is_clipped_into_the_frame():
    params = TrackerParams.create("ostrack", "tiny", load_weights=False)
    score = torch.zeros(8, 8)
    score[4, 4] = 1.0
    size = torch.full((2, 8, 8), 0.99)
    net = ScriptedNet(score, size, torch.zeros(2, 8, 8))
    tracker = OSTrackTracker(params, net=net)
    image = frames(1)[0]
    tracker.initialize(image, {"init_bbox": [250, 150, 40, 40]})
    x, y, w, h = tracker.track(image)["target_bbox"]
    assert x >= 0 and y >= 0 and x + w <= 300 + 1e-6 and y + h <= 200 + 1e-6
    assert w >= 10 and h >= 10


def test_tiny_tracker_runs_a_few_frames():
    torch.manual_seed(0)
    params = TrackerParams.create("ostrack", "tiny", load_weights=False)
    tracker = get_family("ostrack").build_tracker(params)
    images = frames(4)
    assert tracker.initialize(images[0], {"init_bbox": [100, 80, 40, 40]}) is None
    for image in images[1:]:
        box = tracker.track(image)["target_bbox"]
        assert len(box) == 4 and all(math.isfinite(v) for v in box)
        assert 0 <= box[0] <= 300 - 10 and 0 <= box[1] <= 200 - 10 and box[2] >= 10 and box[3] >= 10


def test_windowed_box_of_the_real_network_equals_the_reference(tiny_net, reference):
    params = TrackerParams.create("ostrack", "tiny", load_weights=False)
    tracker = OSTrackTracker(params, net=tiny_net)
    torch.manual_seed(2)
    z, x = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        out = tiny_net(z, x, ce_template_mask=None)
        box, extras = tracker.decode_box(tracker.locate(out), None)
    expected = reference.box((hann(8) * out["score_map"][0, 0]), out["size_map"][0], out["offset_map"][0])
    torch.testing.assert_close(box, expected)
    assert extras == {}


def _first_box(score: torch.Tensor, **test_keys) -> list[float]:
    """The box after one frame from the 40 px box at (100, 80), with TEST keys set; the net predicts 64 px (0.5)."""
    opts = [item for key, value in test_keys.items() for item in (f"TEST.{key}", str(value))]
    params = TrackerParams.create("ostrack", "tiny", load_weights=False, opts=opts)
    size, offset = torch.full((2, 8, 8), 0.5), torch.full((2, 8, 8), 0.5)
    tracker = OSTrackTracker(params, net=ScriptedNet(score, size, offset))
    image = frames(1)[0]
    tracker.initialize(image, {"init_bbox": [100, 80, 40, 40]})
    return tracker.track(image)["target_bbox"]


def _centre(box: list[float]) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def test_size_rate_takes_part_of_the_size_change():
    score = torch.full((8, 8), 0.01)
    score[4, 3] = 0.9
    full, damped = _first_box(score, SIZE_RATE=1.0), _first_box(score, SIZE_RATE=0.25)
    # Predicted size 0.5 * 128 px / 0.8 = 80 px; the old box is 40 px: a quarter of the change gives 50 px,
    # about the same centre.
    assert full[2:] == pytest.approx([80.0, 80.0], abs=1e-4)
    assert damped[2:] == pytest.approx([50.0, 50.0], abs=1e-4)
    assert _centre(damped) == pytest.approx(_centre(full), abs=1e-4)


def test_min_score_keeps_the_box_when_the_peak_is_weak():
    score = torch.full((8, 8), 0.01)
    score[1, 6] = 0.3  # windowed peak ~0.3 * hann: below 0.25 -> the box stays
    assert _first_box(score, MIN_SCORE=0.25) == pytest.approx([100, 80, 40, 40], abs=1e-4)
    assert _first_box(score, MIN_SCORE=0.05) != pytest.approx([100, 80, 40, 40], abs=1)


def test_window_weight_zero_reads_the_raw_peak():
    score = torch.full((8, 8), 0.01)
    score[0, 0] = 0.9  # raw maximum on the border, which the full window suppresses
    score[4, 3] = 0.5
    windowed, raw = _centre(_first_box(score, WINDOW_WEIGHT=1.0)), _centre(_first_box(score, WINDOW_WEIGHT=0.0))
    assert windowed[0] > raw[0] + 40 and windowed[1] > raw[1] + 40
