"""SDSTrack's test-time additions: a confidence per frame and TEST.MISSING_MODALITY."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.config.node import ConfigError
from lib.families import get_family
from lib.test.parameter import TrackerParams
from tests.families.sdstrack.helpers import drawn_tiny_model


def tracker(missing: str = "none"):
    params = TrackerParams.create("sdstrack", "tiny_rgbd", load_weights=False,
                                  opts=["TEST.MISSING_MODALITY", missing])
    trk = get_family("sdstrack").build_tracker(params)
    trk.net = drawn_tiny_model()
    return trk


def frames(seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (96, 128, 6), dtype=np.uint8) for _ in range(3)]


def run(trk, images: list[np.ndarray]) -> list[dict]:
    trk.initialize(images[0], {"init_bbox": [40, 30, 24, 20]})
    return [trk.track(image) for image in images[1:]]


def test_each_frame_reports_a_confidence_in_0_1():
    out = run(tracker(), frames())
    assert all(0 < o["confidence"] < 1 for o in out)


@pytest.mark.parametrize("missing,blanked", [("aux", slice(3, 6)), ("rgb", slice(0, 3))])
def test_a_missing_modality_ignores_that_streams_input(missing, blanked):
    images = frames()
    other = [f.copy() for f in images]
    for f in other:
        f[..., blanked] = 255 - f[..., blanked]
    assert run(tracker(missing), images) == run(tracker(missing), other)
    assert run(tracker(), images) != run(tracker(), other)


def test_an_unknown_missing_modality_is_a_config_error():
    with pytest.raises(ConfigError, match="TEST.MISSING_MODALITY"):
        tracker("depth")
