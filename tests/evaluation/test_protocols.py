"""Each --protocol against its reference on hand-built cases.

pytracking / stark / lasot_toolkit / trackingnet: the references are not PyPI packages (pytracking and STARK are
research repositories, the LaSOT toolkit is MATLAB, the TrackingNet devkit no longer runs on pandas 2), so the
expected numbers are computed by hand below from the rules in their code (visionml/pytracking 7eb9e74
`pytracking/analysis/extract_results.py`; researchmm/Stark `lib/test/analysis/extract_results.py`;
HengLan/LaSOT_Evaluation_Toolkit `utils/calc_seq_err_robust.m`, `eval_tracker.m`, `plot_draw_save.m`;
SilvioGiancola/TrackingNet-devkit `metrics.py`), one frame per comment.
got10k: compared with the official toolkit (`got10k` 0.1.3 from PyPI, requirements-test.txt).
"""
import os
from types import SimpleNamespace

import numpy as np
import pytest

from lib.test.analysis.extract import ScoringRules, evaluate
from lib.test.analysis.metrics import InvalidResultsError, average_curves, lasot_toolkit_errors, score_batch
from lib.test.analysis.results import TrackerSpec

B = [10, 10, 20, 20]
# One LaSOT sequence exercising every per-frame rule; the tracker's float boxes are written as pytracking's runner
# writes them (astype(int): truncation) and TAB-separated.
LASOT_GT = np.array([
    B,                 # 0: init frame, prediction replaced by the GT: IoU 1
    [0, 10, 20, 20],   # 1: visible target touching the left border (x == 0), tracked exactly
    [1, 1, -1, -1],    # 2: absent, junk GT (LaSOT's maintainers: absent frames may carry any box)
    [0, 0, 0, 0],      # 3: absent, junk GT
    B,                 # 4: zero-width prediction -> previous prediction [15,10,20,20]: IoU 300/500 = 0.6, 5 px, 0.25
    B,                 # 5: [12.9,10.9,20.9,20.9] truncated to [12,10,20,20]: IoU 360/440 = 9/11, 2 px, 0.1
    B,                 # 6: exact: IoU 1
    B,                 # 7: disjoint [40,40,20,20]: IoU 0, 30*sqrt(2) px, 1.5*sqrt(2)
], dtype=float)
LASOT_VISIBLE = np.array([1, 1, 0, 0, 1, 1, 1, 1], dtype=bool)
LASOT_PRED = np.array([[300, 300, 5, 5], [0, 10, 20, 20], [50, 50, 20, 20], [15, 10, 20, 20], [12, 10, 0, 20],
                       [12.9, 10.9, 20.9, 20.9], B, [40, 40, 20, 20]])

# Success counts (IoU > t over 21 thresholds): IoU 1 passes 20, 0.6 passes 12 (0..0.55), 9/11 passes 17 (0..0.80).
LASOT_EXPECTED = {
    # x == 0 is valid (GT w, h > 0): frames 0, 1, 6 pass 20 each -> (60 + 12 + 17) / (21 * 8)
    "stark": {"AUC": 100 * 89 / 168, "OP50": 62.5, "OP75": 50.0, "Precision": 62.5, "Norm Precision": 50.0},
    # x == 0 is invalid: IoU -1, centre +inf (a precision failure), normalised -1 (a success)
    "pytracking": {"AUC": 100 * 69 / 168, "OP50": 50.0, "OP75": 37.5, "Precision": 50.0, "Norm Precision": 50.0},
    # x == 0 is invalid: IoU -1 but both centre errors -1 (successes); absent frames leave the numerator only
    "lasot_toolkit": {"AUC": 100 * 69 / 168, "OP50": 50.0, "OP75": 37.5, "Precision": 62.5,
                      "Norm Precision": 50.0},
}


def _write(folder, name, boxes, fmt="%d", delimiter="\t"):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.txt")
    np.savetxt(path, boxes, fmt=fmt, delimiter=delimiter)
    return path


@pytest.mark.parametrize("protocol", sorted(LASOT_EXPECTED))
def test_lasot_sequence_equals_hand_computed_reference(tmp_path, protocol):
    seq = SimpleNamespace(name="cls-1", dataset="lasot", ground_truth_rect=LASOT_GT, target_visible=LASOT_VISIBLE)
    _write(tmp_path / "trk" / "cfg" / "lasot", "cls-1", LASOT_PRED.astype(int))
    ev = evaluate([TrackerSpec("trk", "cfg")], [seq], str(tmp_path), ScoringRules(protocol))
    assert ev.scores()[0] == pytest.approx({**LASOT_EXPECTED[protocol], "FPS": float("nan")}, nan_ok=True,
                                           abs=1e-9)


def test_lasot_toolkit_repairs_nan_and_negative_sizes_that_pytracking_rejects():
    gt = np.array([B] * 4, dtype=float)
    pred = np.array([B, [14, 10, 20, 20], [np.nan] * 4, [5, 5, -3, 20]], dtype=float)
    err = lasot_toolkit_errors([pred], [gt], ["lasot"], [None])
    # rows 2 and 3 take row 1: [14,10,20,20] vs B: 16 x 20 = 320 / 480
    np.testing.assert_allclose(err.overlap, [1, 2 / 3, 2 / 3, 2 / 3], atol=1e-15)
    for protocol in ("stark", "pytracking"):
        with pytest.raises(InvalidResultsError, match="row 2"):
            score_batch(protocol, [pred], [gt], ["lasot"], [None], [None], ["s"])
    with pytest.raises(InvalidResultsError, match="3 predicted boxes for 4"):  # MATLAB cannot index past the end
        lasot_toolkit_errors([pred[:3]], [gt], ["otb"], [None])


@pytest.mark.parametrize("protocol", ["stark", "pytracking", "lasot_toolkit", "got10k", "trackingnet"])
def test_inf_in_a_prediction_is_rejected(protocol):
    gt = np.array([B] * 3, dtype=float)
    pred = np.array([B, [10, 10, np.inf, 20], B], dtype=float)
    with pytest.raises(InvalidResultsError, match="row 1.*inf"):
        score_batch(protocol, [pred], [gt], ["lasot"], [None], [None], ["s"])


def test_lasot_toolkit_leaves_all_zero_sequences_out_of_the_average():
    # plot_draw_save.m: aa = aa(sum(aa, 2) > eps, :) before the mean; a sequence whose first frame is flagged
    # absent and never tracked has an all-zero curve
    gt = np.array([B] * 3, dtype=float)
    lost = np.array([B, [90, 90, 5, 5], [90, 90, 5, 5]], dtype=float)
    arrays = score_batch("lasot_toolkit", [gt, lost], [gt, gt], ["lasot"] * 2, [None, np.array([0, 1, 1], bool)],
                         [None] * 2, ["a", "b"])
    assert arrays["success"][1].sum() == 0.0
    np.testing.assert_allclose(average_curves("lasot_toolkit", arrays["success"][None]), arrays["success"][:1])
    np.testing.assert_allclose(average_curves("stark", arrays["success"][None]),
                               arrays["success"].mean(axis=0, keepdims=True))


def test_trackingnet_equals_hand_computed_devkit_values(tmp_path):
    # GT rounded half to even: [10.4, 10.6, 24.5, 19.5] -> [10, 11, 24, 20]; centres x + (w + 1) / 2 = (22.5, 21.5)
    gt = np.array([[10.4, 10.6, 24.5, 19.5]] * 4)
    pred = np.array([[300, 300, 5, 5],        # 0: replaced by the GT
                     [12.5, 11, 24, 20],      # 1: x rounds to 12: IoU 440 / 520 = 0.846, 2 px, 2/24 = 0.083
                     [0, 0, 0, 0]])           # 2: zero box: IoU 0 (a success at threshold 0: >=), 30.4 px, 1.39
    #                                           3: missing row: fails everything
    seq = SimpleNamespace(name="-3TIfnTSM6c_2", dataset="trackingnet", ground_truth_rect=gt, target_visible=None)
    _write(tmp_path / "trk" / "cfg" / "trackingnet", seq.name, pred, fmt="%.2f", delimiter=",")
    ev = evaluate([TrackerSpec("trk", "cfg")], [seq], str(tmp_path), ScoringRules("trackingnet"))
    # success (>= 0, 0.05, ..., 1): [3, 2 x 16, 1 x 4] / 4 -> trapezoid area 0.4625
    # precision (<= 0, 2.5, ..., 50 px): [1, 2 x 12, 3 x 8] / 4 -> 0.5875; normalised: [1 x 4, 2 x 17] / 4 -> 0.45625
    assert ev.scores()[0] == pytest.approx({"AUC": 46.25, "OP50": 50.0, "OP75": 50.0, "Precision": 58.75,
                                            "Norm Precision": 45.625, "FPS": float("nan")}, nan_ok=True, abs=1e-9)


def test_exclude_invalid_only_for_pytracking_and_stark():
    ScoringRules("pytracking", exclude_invalid=True)
    with pytest.raises(ValueError, match="exclude_invalid"):
        ScoringRules("got10k", exclude_invalid=True)


@pytest.mark.parametrize("protocol", ["stark", "pytracking", "lasot_toolkit"])
def test_got10k_cover_labels_do_not_reach_the_pytracking_style_protocols(protocol):
    # pytracking's GOT10KDataset passes no visibility, so absent frames are scored against their GT box there;
    # the cover labels the GOT-10k reader provides serve the got10k protocol only
    gt = np.array([B] * 4, dtype=float)
    pred = np.array([B, [12, 10, 20, 20], [14, 10, 20, 20], [16, 10, 20, 20]], dtype=float)
    hidden = np.array([1, 0, 0, 1], dtype=bool)
    with_flags = score_batch(protocol, [pred], [gt], ["got10k"], [hidden], [None], ["s"])
    without = score_batch(protocol, [pred], [gt], ["got10k"], [None], [None], ["s"])
    for key in ("success", "precision", "norm_precision", "ao"):
        np.testing.assert_array_equal(with_flags[key], without[key])
    on_lasot = score_batch(protocol, [pred], [gt], ["lasot"], [hidden], [None], ["s"])
    assert not np.array_equal(on_lasot["success"], without["success"])
