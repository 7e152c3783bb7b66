"""The SeqTrack tracker: tokens read back as the box, and the official template update (first template kept,
the latest replaced, every UPDATE_INTERVALS[dataset] frames when 10 x the summed probabilities exceed
UPDATE_THRESHOLD[dataset])."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn

from lib.families.seqtrack.tracker import SeqTrackTracker
from lib.test.parameter import TrackerParams


class ScriptedBody:
    """Numbers the templates it embeds: each one's tokens (streams, B, L_t, C) = (1, 1, 1, 1) hold its number."""

    def __init__(self):
        self.embedded = 0

    def template_tokens(self, crop: torch.Tensor) -> torch.Tensor:
        self.embedded += 1
        return torch.full((1, 1, 1, 1), float(self.embedded))


class ScriptedNet(nn.Module):
    """Fixed tokens and probabilities; records the numbers of the templates the encoder receives."""

    def __init__(self, tokens: list[int], confidence: float):
        super().__init__()
        self.tokens, self.confidence = tokens, confidence
        self.encoder = SimpleNamespace(body=ScriptedBody())
        self.encoder_inputs: list[list[float]] = []

    def forward_encoder(self, images_list, search_only=False, template_tokens=None):
        assert search_only  # the tracker's decoder reads the search tokens alone
        assert len(images_list) == 1  # the search crop: the templates come as tokens embedded before
        self.encoder_inputs.append(template_tokens.flatten().tolist())
        return [torch.zeros(1, 1, 1)]

    def inference_decoder(self, xz, sequence, window=None, seq_format="xywh"):
        assert sequence.tolist() == [[4001]]  # decoding starts from [START]
        return {"pred_boxes": torch.tensor([self.tokens]), "confidence": torch.full((1, 4), self.confidence)}


def frames(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(count)]


def tracker(dataset: str, confidence: float, tokens=(1600, 2000, 1000, 1000)) -> tuple[SeqTrackTracker, ScriptedNet]:
    params = TrackerParams.create("seqtrack", "tiny", load_weights=False, dataset_name=dataset)
    net = ScriptedNet(list(tokens), confidence)
    return SeqTrackTracker(params, net), net


def test_tokens_are_read_back_as_the_box_in_the_frame():
    seq_tracker, _ = tracker("lasot", 0.1)
    images = frames(2)
    seq_tracker.initialize(images[0], {"init_bbox": [140.0, 100.0, 40.0, 40.0]})
    box = seq_tracker.track(images[1])["target_bbox"]
    # Search crop: 4 x 40 = 160 frame pixels around the centre (160, 120); token t is t / 3999 of the crop.
    cx, cy, w, h = (t / 3999 * 160 for t in (1600, 2000, 1000, 1000))
    expected = [160 - 80 + cx - w / 2, 120 - 80 + cy - h / 2, w, h]
    assert box == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("dataset,confidence,updated_at", [
    ("got10k_test", 0.05, [1, 2, 3]),   # every frame, 10 x 4 x 0.05 = 2.0 > 0.6
    ("got10k_test", 0.01, []),          # 10 x 4 x 0.01 = 0.4 <= 0.6
    ("trackingnet", 0.05, []),          # every 25 frames: not within 4 frames
    ("vot22", 0.015, [1, 2, 3]),        # seqtrack_b256.yaml: every frame, 10 x 4 x 0.015 = 0.6 > 0.55
    ("vot22", 0.0125, []),              # 0.5 <= 0.55
    ("unknown", 0.05, []),              # DEFAULT: every 9999 frames
])
def test_template_update_follows_the_per_dataset_schedule(dataset, confidence, updated_at):
    seq_tracker, net = tracker(dataset, confidence)
    images = frames(5)
    seq_tracker.initialize(images[0], {"init_bbox": [140.0, 100.0, 40.0, 40.0]})
    for image in images[1:]:
        seq_tracker.track(image)
    calls = net.encoder_inputs  # per frame: [first template's number, the latest's]
    assert all(len(c) == 2 and c[0] == 1 for c in calls)
    changed = [k for k in range(1, len(calls)) if calls[k][1] != calls[k - 1][1]]
    assert changed == [k for k in updated_at if k < len(calls)]
    assert calls[0][1] == 1
    # each template is embedded once, when it is taken (these schedules update after every frame or never)
    assert net.encoder.body.embedded == 1 + (len(calls) if updated_at else 0)
