"""Hand-computed golden values for the OPE metrics (lib/test/analysis/metrics.py)."""
import math

import numpy as np
import pytest

from lib.test.analysis.metrics import (PROTOCOLS, InvalidResultsError, SeqErrors, calc_seq_err_robust,
                                       center_error, got10k_iou, got10k_scores, got10k_seq_stats, iou_inclusive,
                                       repair_rows, seq_curves, summary_scores)

BOX = [10.0, 10.0, 20.0, 20.0]


def boxes(*rows):
    return np.array(rows, dtype=np.float64)


def curves_of(pred, gt, dataset="otb", visible=None, protocol="stark", exclude_invalid=False):
    err = calc_seq_err_robust(pred, gt, dataset, visible, protocol=protocol)
    return err, seq_curves(err, protocol, exclude_invalid=exclude_invalid)


# --- box geometry -----------------------------------------------------------------------------------------------

def test_iou_inclusive_hand_values():
    pred = boxes([0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 4, 4], [0, 0, 10, 10])
    gt = boxes([5, 5, 10, 10], [0, 0, 10, 10], [10, 10, 4, 4], [10, 0, 10, 10])
    # overlap 5x5 = 25, union 100 + 100 - 25; identical boxes; disjoint; touching edges (no shared pixel)
    np.testing.assert_allclose(iou_inclusive(pred, gt), [25 / 175, 1.0, 0.0, 0.0], rtol=0, atol=1e-15)


def test_center_error_hand_values():
    pred = boxes([0, 0, 10, 10], [0, 0, 4, 6])
    gt = boxes([3, 4, 10, 10], [10, 20, 8, 10])
    # centres x + (w-1)/2: (4.5,4.5) vs (7.5,8.5) -> 3-4-5; (1.5,2.5) vs (13.5,24.5) -> dx 12, dy 22
    np.testing.assert_allclose(center_error(pred, gt), [5.0, math.sqrt(144 + 484)])
    # normalised: offsets divided by GT w,h: (0.3, 0.4) -> 0.5; (12/8, 22/10)
    np.testing.assert_allclose(center_error(pred, gt, normalized=True), [0.5, math.sqrt(1.5 ** 2 + 2.2 ** 2)])


# --- calc_seq_err_robust ----------------------------------------------------------------------------------------

def test_first_frame_is_ground_truth_and_counted():
    gt = boxes(BOX, BOX)
    err, curves = curves_of(boxes([300, 300, 5, 5], BOX), gt)
    assert err.overlap[0] == 1.0 and err.center[0] == 0.0
    assert curves.success[0] == 1.0  # both frames succeed at threshold 0


def test_zero_size_prediction_takes_previous_original_prediction():
    gt = boxes(*[BOX] * 5)
    pred = boxes([50, 50, 20, 20],   # frame 0: replaced by GT, but its original box is what frame 1 copies
                 [0, 0, 0, 0],       # -> [50,50,20,20]: IoU 0 (it would be 1 if the GT had been copied)
                 BOX,                # IoU 1
                 [5, 5, 0, 10],      # zero width -> previous box BOX: IoU 1
                 [20, 10, 20, 20])   # 10x20 overlap: 200 / (800 - 200)
    err = calc_seq_err_robust(pred, gt, "got10k")
    np.testing.assert_allclose(err.overlap, [1, 0, 1, 1, 1 / 3], rtol=0, atol=1e-15)


def test_run_of_zero_size_predictions_takes_last_good_box():
    gt = boxes(*[BOX] * 4)
    pred = boxes(BOX, [12, 10, 20, 20], [0, 0, 0, 0], [7, 7, 0, 0])
    err = calc_seq_err_robust(pred, gt, "got10k")
    # [12,10,20,20] vs BOX: 18 x 20 = 360 / (800 - 360)
    np.testing.assert_allclose(err.overlap, [1, 9 / 11, 9 / 11, 9 / 11], rtol=0, atol=1e-15)


def test_repair_zero_size_keeps_zero_box_on_nan_ground_truth_rows():
    pred = boxes([1, 1, 5, 5], [0, 0, 0, 0], [2, 2, 0, 3], [4, 4, 6, 6])
    nan_rows = np.array([False, True, False, False])
    out = repair_rows(pred, ((pred[:, 2] == 0) | (pred[:, 3] == 0)) & ~nan_rows)
    # row 1 is on a NaN-GT row: kept; row 2 copies row 1 (the kept zero box)
    np.testing.assert_array_equal(out, boxes([1, 1, 5, 5], [0, 0, 0, 0], [0, 0, 0, 0], [4, 4, 6, 6]))


def test_uav_nan_ground_truth():
    gt = boxes(BOX, [np.nan] * 4, BOX, BOX)
    pred = boxes(BOX, [0, 0, 0, 0], [0, 0, 0, 0], BOX)
    # frame 1: NaN GT -> invalid, zero box kept; frame 2: copies the zero box -> IoU 0, centre (-0.5,-0.5)
    # vs (19.5,19.5) = 20*sqrt(2) px > 20, normalised sqrt(2) > 0.2
    err, c = curves_of(pred, gt, "uav")
    np.testing.assert_allclose(err.overlap, [1, -1, 0, 1], atol=1e-15)
    assert err.center[2] == pytest.approx(20 * math.sqrt(2))
    assert c.success[0] == 0.5 and np.mean(c.success) == pytest.approx(40 / 84)
    assert c.ao == pytest.approx(2 / 3)  # mean IoU over the 3 valid frames
    assert err.center[1] == -1 and err.center_norm[1] == -1  # pytracking: NaN frame is a precision success
    assert c.precision[20] == 0.75 and c.norm_precision[20] == 0.75


def test_nan_ground_truth_rejected_outside_uav():
    gt = boxes(BOX, [np.nan] * 4)
    with pytest.raises(InvalidResultsError, match="seqA.*NaN"):
        calc_seq_err_robust(boxes(BOX, BOX), gt, "lasot", seq_name="seqA")


@pytest.mark.parametrize("bad", [[np.nan, 1, 2, 3], [1, 1, -2, 3], [1, 1, 2, -0.5], [np.inf, 1, 2, 3],
                                 [1, 1, np.inf, 3], [1, 1, 2, -np.inf]])
def test_invalid_predictions_raise(bad):
    with pytest.raises(InvalidResultsError, match="row 1"):
        calc_seq_err_robust(boxes(BOX, bad), boxes(BOX, BOX), "otb")


ABSENT_GT = boxes(*[BOX] * 4)
ABSENT_VISIBLE = np.array([1, 0, 0, 1], dtype=bool)
ABSENT_PRED = boxes(BOX, [100, 100, 20, 20], [100, 100, 20, 20], BOX)


def test_lasot_absent_frames_are_failures():
    err, c = curves_of(ABSENT_PRED, ABSENT_GT, "lasot", ABSENT_VISIBLE)
    np.testing.assert_array_equal(err.valid, ABSENT_VISIBLE)
    np.testing.assert_array_equal(err.overlap, [1, -1, -1, 1])
    assert np.isinf(err.center[1:3]).all() and np.isinf(err.center_norm[1:3]).all()
    assert np.mean(c.success) == pytest.approx(40 / 84)
    assert c.precision[20] == 0.5 and c.norm_precision[20] == 0.5


def test_lasot_extension_counts_absent_frames_as_normalised_precision_successes():
    err, c = curves_of(ABSENT_PRED, ABSENT_GT, "lasot_extension_subset", ABSENT_VISIBLE)
    np.testing.assert_array_equal(err.center_norm[1:3], [-1, -1])
    assert c.precision[20] == 0.5         # centre error still +inf
    assert c.norm_precision[20] == 1.0    # pytracking's quirk: +share of absent frames (here 0.5)
    assert np.all(c.norm_precision == 1.0)


def test_exclude_invalid_frames_changes_denominator():
    _, c = curves_of(ABSENT_PRED, ABSENT_GT, "lasot", ABSENT_VISIBLE, exclude_invalid=True)
    assert np.mean(c.success) == pytest.approx(40 / 42)  # 2 valid frames, each a success at 20 of 21 thresholds
    assert c.precision[20] == 1.0 and c.norm_precision[20] == 1.0


def test_validity_rule_stark_versus_pytracking():
    gt = boxes(BOX, [0, 5, 20, 20])  # visible target touching the left border
    pred = gt.copy()
    err_wh, c_wh = curves_of(pred, gt, protocol="stark")
    err_all, c_all = curves_of(pred, gt, protocol="pytracking")
    assert err_wh.valid.tolist() == [True, True] and err_all.valid.tolist() == [True, False]
    assert c_wh.success[0] == 1.0 and c_all.success[0] == 0.5
    with pytest.raises(ValueError, match="pytracking and stark"):
        calc_seq_err_robust(pred, gt, "otb", protocol="got10k")


def test_length_mismatch_lasot_shorter_raises_longer_truncates():
    gt = boxes(*[BOX] * 3)
    with pytest.raises(InvalidResultsError, match="2 predicted boxes for 3"):
        calc_seq_err_robust(boxes(BOX, BOX), gt, "lasot")
    longer = boxes(BOX, BOX, [15, 10, 20, 20], [0, 0, 5, 5])
    err = calc_seq_err_robust(longer, gt, "lasot")
    # [15,10,20,20]: 15 x 20 = 300 / 500
    np.testing.assert_allclose(err.overlap, [1, 1, 0.6], atol=1e-15)


def test_length_mismatch_other_datasets_pad_with_unrepaired_zero_boxes():
    gt = boxes(*[BOX] * 4)
    err = calc_seq_err_robust(boxes(BOX, BOX), gt, "got10k")
    np.testing.assert_array_equal(err.overlap, [1, 1, 0, 0])  # padded zero boxes are not replaced


# --- curves and scores ------------------------------------------------------------------------------------------

def test_curves_and_scores_golden():
    gt = boxes([0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10])
    pred = boxes([9, 9, 1, 1], [5, 5, 10, 10], [50, 50, 10, 10])  # IoUs 1 (frame 0), 1/7, 0
    err, c = curves_of(pred, gt)
    # IoU 1 exceeds 20 of the 21 thresholds (not 1.0); 1/7 = 0.143 exceeds 0, 0.05, 0.10; 0 exceeds none
    assert np.mean(c.success) == pytest.approx(23 / 63)
    np.testing.assert_allclose(c.success[:4], [2 / 3, 2 / 3, 2 / 3, 1 / 3])
    # centre errors 0, 5*sqrt(2) = 7.07, 50*sqrt(2); normalised 0, 0.707, 7.07
    assert c.precision[7] == pytest.approx(1 / 3) and c.precision[8] == pytest.approx(2 / 3)
    assert c.precision[20] == pytest.approx(2 / 3) and c.precision[50] == pytest.approx(2 / 3)
    assert c.norm_precision[20] == pytest.approx(1 / 3) and c.norm_precision[50] == pytest.approx(1 / 3)
    assert c.ao == pytest.approx(8 / 21)
    s = summary_scores(c.success, c.precision, c.norm_precision)
    assert s == pytest.approx({"AUC": 100 * 23 / 63, "OP50": 100 / 3, "OP75": 100 / 3,
                               "Precision": 200 / 3, "Norm Precision": 100 / 3})


def test_success_is_strictly_greater_and_precision_inclusive():
    err = SeqErrors(np.array([0.5]), np.array([20.0]), np.array([0.2]), np.array([True]))
    c = seq_curves(err)
    assert c.success[10] == 0.0 and c.success[9] == 1.0   # IoU 0.5 is not > 0.5
    assert c.precision[20] == 1.0 and c.precision[19] == 0.0
    assert c.norm_precision[20] == 1.0 and c.norm_precision[19] == 0.0


def test_overlap_thresholds_of_each_reference():
    torch_arange = PROTOCOLS["stark"].overlap_thresholds
    assert PROTOCOLS["pytracking"].overlap_thresholds is torch_arange and len(torch_arange) == 21
    assert torch_arange[3] == 0.15000000000000002 and torch_arange[15] == 0.7500000000000001
    matlab = PROTOCOLS["lasot_toolkit"].overlap_thresholds  # 0:0.05:1 built from both ends
    assert matlab[3] == 0.15000000000000002 and matlab[10] == 0.5 and matlab[13] == 0.6499999999999999
    assert matlab[15] == 0.75
    for p in PROTOCOLS.values():
        np.testing.assert_allclose(p.overlap_thresholds, np.linspace(0, 1, len(p.overlap_thresholds)), atol=1e-15)
    # the next double above 0.75 exceeds MATLAB's 0.75 but not torch's 0.7500000000000001
    err = SeqErrors(np.array([np.nextafter(0.75, 1)]), np.zeros(1), np.zeros(1), np.array([True]))
    assert seq_curves(err, "lasot_toolkit").success[15] == 1.0 and seq_curves(err, "stark").success[15] == 0.0


# --- GOT-10k protocol -------------------------------------------------------------------------------------------

def test_got10k_iou_continuous_clipped_and_bounded():
    np.testing.assert_allclose(got10k_iou(boxes([0, 0, 10, 10]), boxes([5, 5, 10, 10])), [1 / 7])
    assert got10k_iou(boxes([0, 0, 0, 0]), boxes([0, 0, 10, 10]))[0] == 0.0
    # clipped to a 10x10 image: [5,5,10,10] -> [5,5,5,5]: 25 / 100
    np.testing.assert_allclose(got10k_iou(boxes([5, 5, 10, 10]), boxes([0, 0, 10, 10]), bound=(10, 10)), [0.25])


def _got_sequences():
    gt1 = boxes(*[[0, 0, 10, 10]] * 3)
    pred1 = boxes([90, 90, 5, 5], [5, 5, 10, 10], [0, 0, 10, 10])             # frame 0 dropped; 1/7, 1
    gt2 = boxes(*[[0, 0, 10, 10]] * 5)
    pred2 = boxes([90, 90, 5, 5], [0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 8], [20, 20, 10, 10])  # 1, .5, .8, 0
    return (pred1, gt1), (pred2, gt2)


def test_got10k_seq_stats_and_scores():
    (p1, g1), (p2, g2) = _got_sequences()
    s1, s2 = got10k_seq_stats([p1], g1), got10k_seq_stats([p2], g2)
    np.testing.assert_allclose(s1, [2, 8 / 7, 1, 1])
    np.testing.assert_allclose(s2, [4, 2.3, 2, 2])  # IoU 0.5 is not > 0.5
    frame = got10k_scores(np.stack([s1, s2]))
    assert frame == pytest.approx({"AO": 100 * (8 / 7 + 2.3) / 6, "SR0.50": 50.0, "SR0.75": 50.0})
    seq = got10k_scores(np.stack([s1, s2]), frame_weighted=False)
    assert seq == pytest.approx({"AO": 100 * ((8 / 7) / 2 + 2.3 / 4) / 2, "SR0.50": 50.0, "SR0.75": 50.0})


def test_got10k_visibility_and_repetitions():
    _, (p2, g2) = _got_sequences()
    visible = np.array([1, 1, 0, 1, 1], dtype=bool)
    np.testing.assert_allclose(got10k_seq_stats([p2], g2, visible), [3, 1.8, 2, 2])  # the IoU-0.5 frame hidden
    np.testing.assert_allclose(got10k_seq_stats([p2, g2], g2), [8, 6.3, 6, 6])  # repetitions are pooled
    with pytest.raises(InvalidResultsError, match="one box per frame"):
        got10k_seq_stats([p2[:3]], g2)
