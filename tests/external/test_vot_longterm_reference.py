"""The `vot_longterm` protocol (lib/test/analysis/multimodal.py) against vot-toolkit 0.9.0 itself: rasterised
overlaps, thresholds, precision / recall curves and the reported Pr / Re / F on random trajectories with absent
frames, thin boxes, half-pixel coordinates and boxes leaving the image.

Skipped only when vot-toolkit is not installed (pip install -r requirements-vot.txt; CI installs it)."""
import numpy as np
import pytest

pytest.importorskip("vot", reason="vot-toolkit is not installed (bash install.sh --with-vot)")

from vot.analysis.longterm import compute_tpr_curves, determine_thresholds  # noqa: E402
from vot.region import Special, calculate_overlaps  # noqa: E402
from vot.region.shapes import Rectangle  # noqa: E402

from lib.test.analysis.multimodal import (longterm_curves, longterm_frames, longterm_scores,  # noqa: E402
                                          longterm_thresholds)

SIZE = (160, 120)
UNKNOWN, INITIALIZATION = 0, 1  # vot.region.Special codes: NaN ground truth, a trajectory's first frame


class _Sequence:
    size = SIZE

    def __init__(self, regions):
        self.regions = regions

    def groundtruth(self):
        return self.regions


def _random_run(rng, n, halves):
    xy, wh = rng.uniform(-20, 150, (n, 2)), rng.uniform(0.5, 60, (n, 2))
    gt = np.column_stack([xy, wh])
    gt[rng.random(n) < 0.1] = np.nan
    gt[0] = [20, 20, 30, 30]
    pred = np.column_stack([xy + rng.normal(0, 8, (n, 2)), np.abs(wh + rng.normal(0, 6, (n, 2))) + 0.2])
    pred[rng.random(n) < 0.05, 2] = 1.0
    if halves:  # ties for the toolkit's rounding
        pred = np.round(pred * 2) / 2
    confidence = rng.random(n)
    confidence[0] = np.nan
    return gt, pred, confidence


@pytest.mark.parametrize("seed", [0, 1])
def test_longterm_scores_equal_the_vot_toolkit(seed):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for s in range(6):
        gt, pred, confidence = _random_run(rng, int(rng.integers(40, 300)), halves=s % 2 == 1)
        regions = [Special(UNKNOWN) if np.isnan(g).any() else Rectangle(*g) for g in gt]
        trajectory = [Special(INITIALIZATION)] + [Rectangle(*p) for p in pred[1:]]
        reported = [0.0] + list(confidence[1:])  # the toolkit: properties.get('confidence', 0)
        overlap, conf, present = longterm_frames(pred, gt, np.ones(len(gt), bool), confidence, SIZE)
        np.testing.assert_array_equal(overlap, calculate_overlaps(trajectory, regions, SIZE))
        ours.append((overlap, conf, present))
        theirs.append((trajectory, reported, _Sequence(regions)))
    thresholds = longterm_thresholds([c for _, c, _ in ours])
    reference = determine_thresholds([c for _, reported, _ in theirs for c in reported], 100)
    np.testing.assert_array_equal(thresholds, reference)
    curves = np.mean([longterm_curves(*frames, thresholds) for frames in ours], axis=0)
    ref_curves = np.mean([compute_tpr_curves(t, c, s, reference, True, True) for t, c, s in theirs], axis=0)
    np.testing.assert_allclose(curves, ref_curves, rtol=0, atol=1e-15)
    f = [2 * p * r / (p + r) for p, r in zip(*ref_curves)]
    best = int(np.argmax(f))  # PrecisionRecall.compute: the first maximum of the F curve
    assert longterm_scores(*curves) == pytest.approx(
        {"Pr": 100 * ref_curves[0][best], "Re": 100 * ref_curves[1][best], "F-score": 100 * f[best]}, abs=1e-12)
