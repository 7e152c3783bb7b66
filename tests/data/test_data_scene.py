"""The synthetic scenes: ground truth matches the pixels, flags match an independent raster computation, and the
content is hard enough for the quickstart (fast motion, scale change, distractors, absence spans)."""
import numpy as np
import pytest

from lib.synthetic.render import make_textures, render_frame
from lib.synthetic.scene import cover_level, frame_truth, simulate


def _raster_visible_fraction(box, occluders, width, height, samples=300):
    """Share of `box` inside the image and outside every occluder, by sampling a fine grid (slow, simple)."""
    x, y, w, h = box
    xs = x + (np.arange(samples) + 0.5) / samples * w
    ys = y + (np.arange(samples) + 0.5) / samples * h
    gx, gy = np.meshgrid(xs, ys)
    seen = (gx >= 0) & (gx < width) & (gy >= 0) & (gy < height)
    for ox, oy, ow, oh in occluders:
        if np.isfinite(ox):
            seen &= ~((gx >= ox) & (gx < ox + ow) & (gy >= oy) & (gy < oy + oh))
    return seen.mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flags_match_raster(seed):
    scene = simulate(np.random.default_rng(seed), 120, 96, 72, num_targets=2)
    for k in range(2):
        truth = frame_truth(scene, k)
        for t in range(0, 120, 3):
            covers = [scene.occluder[t]] + [scene.targets[j, t] for j in range(k)]
            expected = _raster_visible_fraction(scene.targets[k, t], covers, 96, 72)
            w, h = scene.targets[k, t, 2:]
            if truth.out_of_view[t]:   # at most a sub-pixel strip is inside the image
                assert expected * w * h < max(w, h), (k, t)
                continue
            assert abs(truth.visible_fraction[t] - expected) < 0.01, (k, t)
            assert truth.full_occlusion[t] == (expected == 0)
    truth = frame_truth(scene, 0)
    assert (truth.absent == (truth.visible_fraction == 0)).all()
    assert (truth.boxes[~truth.out_of_view, 2:] >= 1).all()   # no sub-pixel boxes on present frames
    assert truth.full_occlusion.any()          # these seeds do exercise the occluder


def test_cover_levels():
    assert cover_level(np.array([0.0, 1e-6, 1 / 7, 0.15, 0.5, 6 / 7 + 1e-6, 0.999, 1.0])).tolist() == \
        [0, 1, 1, 2, 4, 7, 7, 8]


def test_gt_box_matches_pixels():
    """Pixels that change when the target is removed lie in its ground-truth box and fill most of it."""
    scene = simulate(np.random.default_rng(5), 40, 120, 90)
    textures = make_textures(np.random.default_rng(6), scene)
    truth = frame_truth(scene, 0)
    checked = 0
    for t in range(40):
        if truth.visible_fraction[t] < 1 or not np.isnan(scene.occluder[t]).all():
            continue
        with_target = render_frame(scene, textures, t).astype(int)
        saved = scene.targets[0, t].copy()
        scene.targets[0, t] = np.nan
        without = render_frame(scene, textures, t).astype(int)
        scene.targets[0, t] = saved
        ys, xs = np.nonzero(np.abs(with_target - without).max(axis=2) > 12)
        x, y, w, h = truth.boxes[t]
        assert xs.min() >= np.floor(x) - 1 and xs.max() <= np.ceil(x + w) + 1
        assert ys.min() >= np.floor(y) - 1 and ys.max() <= np.ceil(y + h) + 1
        assert len(xs) > 0.7 * w * h
        checked += 1
    assert checked > 10


def test_content_is_hard_over_many_seeds():
    speeds, scale_ratios, distractors, oov, occ = [], [], [], 0, 0
    for seed in range(20):
        scene = simulate(np.random.default_rng(seed), 200, 320, 240)
        truth = frame_truth(scene, 0)
        centres = scene.targets[0, :, :2] + scene.targets[0, :, 2:] / 2
        speeds.append(np.linalg.norm(np.diff(centres, axis=0), axis=1).mean())
        area = np.sqrt(scene.targets[0, :, 2] * scene.targets[0, :, 3])
        scale_ratios.append(area.max() / area.min())
        distractors.append(len(scene.distractors))
        oov += truth.out_of_view.any()
        occ += truth.full_occlusion.any()
        assert truth.visible[0] and truth.cover[0] == 8        # the initial box is always clean
    assert np.median(speeds) > 0.01 * 240                        # more than 1 % of the image side per frame
    assert np.median(scale_ratios) > 1.3
    assert min(distractors) >= 1
    assert oov >= 8 and occ >= 8


def test_simulation_is_deterministic():
    a = simulate(np.random.default_rng(11), 50, 64, 48)
    b = simulate(np.random.default_rng(11), 50, 64, 48)
    np.testing.assert_array_equal(a.targets, b.targets)
    np.testing.assert_array_equal(a.occluder, b.occluder)
