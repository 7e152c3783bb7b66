"""STARK test-time trackers on synthetic frames: a few tracking steps, the official box mapping, and the ST
dynamic-template update rule."""
import numpy as np
import pytest
import torch

from lib.test.parameter import TrackerParams

INIT = [100.0, 80.0, 40.0, 30.0]


def _frame(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (240, 320, 3), dtype=np.uint8)


def _tracker(name, dataset="lasot", opts=()):
    params = TrackerParams.create(name, "tiny", dataset_name=dataset, load_weights=False, opts=opts)
    return params.family.build_tracker(params)


def _st_tracker_with_own_network(dataset, opts):
    """A stark_st tracker whose network is not the per-process cached one (the test edits its weights)."""
    from lib.families.stark.tracker import STARKSTTracker
    from lib.test.tracker.base import build_network

    params = TrackerParams.create("stark_st", "tiny", dataset_name=dataset, load_weights=False, opts=opts)
    return STARKSTTracker(params, net=build_network(params))


@pytest.mark.parametrize("name", ["stark_s", "stark_st"])
def test_tracks_a_few_frames(name):
    tracker = _tracker(name)
    tracker.initialize(_frame(0), {"init_bbox": INIT})
    for i in range(1, 4):
        out = tracker.track(_frame(i), {})
        x, y, w, h = out["target_bbox"]
        assert 0 <= x <= 310 and 0 <= y <= 230 and w >= 10 and h >= 10  # clip_box(margin=10)
        assert ("conf_score" in out) == (name == "stark_st")
        if name == "stark_st":
            assert 0.0 < out["conf_score"] < 1.0


def test_predicted_box_is_mapped_back_like_the_official_tracker(monkeypatch):
    tracker = _tracker("stark_s")
    tracker.initialize(_frame(), {"init_bbox": INIT})
    monkeypatch.setattr(tracker, "forward_search",
                        lambda crop: {"pred_boxes": torch.tensor([[[0.5, 0.5, 0.25, 0.125]]])})
    out = tracker.track(_frame(), {})
    # side = ceil(sqrt(40 * 30) * 5) = 174 around the centre (120, 95); the crop is 128 px, so normalised (cx, cy,
    # w, h) = (0.5, 0.5, 0.25, 0.125) is (87, 87, 43.5, 21.75) frame px from the crop corner (120 - 87, 95 - 87).
    assert out["target_bbox"] == pytest.approx([120 - 21.75, 95 - 10.875, 43.5, 21.75])


def _force_score(tracker, logit):
    with torch.no_grad():
        tracker.net.cls_head.layers[-1].weight.zero_()
        tracker.net.cls_head.layers[-1].bias.fill_(logit)


def test_dynamic_template_updates_every_interval_when_confident():
    tracker = _st_tracker_with_own_network("synth", ["TEST.UPDATE_INTERVALS.SYNTH", "[2]"])
    _force_score(tracker, 20.0)
    tracker.initialize(_frame(0), {"init_bbox": INIT})
    first = tracker.state.templates[0]
    assert len(tracker.state.templates) == 2 and tracker.state.templates[1] is first
    tracker.track(_frame(1), {})
    assert tracker.state.templates[1] is first  # frame 1: not a multiple of 2
    tracker.track(_frame(2), {})
    assert tracker.state.templates[1] is not first and tracker.state.templates[0] is first
    assert not torch.equal(tracker.state.templates[1]["feat"], first["feat"])


def test_no_template_update_when_the_score_is_low():
    tracker = _st_tracker_with_own_network("synth", ["TEST.UPDATE_INTERVALS.SYNTH", "[1]"])
    _force_score(tracker, -20.0)
    tracker.initialize(_frame(0), {"init_bbox": INIT})
    first = tracker.state.templates[0]
    for i in range(1, 3):
        assert tracker.track(_frame(i), {})["conf_score"] < 0.5
    assert all(t is first for t in tracker.state.templates)


def test_update_intervals_per_dataset_and_fallback():
    from lib.families import load_config
    from lib.families.stark.tracker import update_intervals

    cfg = load_config("stark_st2", "baseline")
    assert update_intervals(cfg, "trackingnet") == [25]
    assert update_intervals(cfg, "otb") == [200]  # unknown dataset: DATA.MAX_SAMPLE_INTERVAL
    bad = load_config("stark_st2", "baseline", ["TEST.UPDATE_INTERVALS.OTB", "[0]"])
    with pytest.raises(ValueError, match="UPDATE_INTERVALS.OTB"):
        update_intervals(bad, "otb")


def test_test_search_size_must_match_the_trained_head():
    params = TrackerParams.create("stark_s", "tiny", load_weights=False, opts=["TEST.SEARCH_SIZE", "160"])
    with pytest.raises(ValueError, match="SEARCH_SIZE"):
        params.family.build_tracker(params)
