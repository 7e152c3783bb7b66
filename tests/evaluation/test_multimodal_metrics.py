"""Multi-modal benchmark metrics (lib/test/analysis/multimodal.py and the lasher / rgbt234 / visevent /
vot_longterm protocols) on hand-computed toy cases.

Sources of the rules (read, not run: the toolkits are MATLAB or need the VOT runtime):
* LasHeR: LasHeR_Toolkit `utils/calc_seq_err_robust.m`, `utils/eval_tracker.m`, `res_fig/utils/plot_draw_save.m`
  (xuboyue1999/RGBT-Tracking copy) - the LaSOT toolkit with the absence handling commented out.
* VisEvent: wangxiao5791509/VisEvent_SOT_Benchmark `utils/calc_seq_err_robust.m` (the LaSOT toolkit with `annos/absent`
  flags).
* RGBT234: MPR-MSR-Evaluation `calcPlotErr_TPR.m` (err = max(errV, errI), errCenter = min(...), centres x + w/2),
  `main_attrDrawCurve_RGBT234.m` (MPR = curve at 20 px, MSR = mean of the 0:0.05:1 curve, mean over sequences).
* VOT long-term: vot-toolkit `vot/analysis/longterm.py` (determine_thresholds, compute_tpr_curves, FScoreCurve,
  PrecisionRecall) and `vot/region/raster.py` (calculate_overlap).
"""
from types import SimpleNamespace

import numpy as np
import pytest

from lib.test.analysis.extract import ScoringRules, evaluate
from lib.test.analysis.metrics import (ProtocolMismatchError, average_curves, check_protocol, default_protocol,
                                       protocol_scores, score_batch)
from lib.test.analysis.multimodal import (longterm_curves, longterm_frames, longterm_scores, longterm_thresholds,
                                          vot_overlaps)
from lib.test.analysis.results import TrackerSpec

GT = [10.0, 10.0, 20.0, 20.0]


def scores(protocol, preds, gts, tag, visibles=None, aux=None):
    n = len(gts)
    arrays = score_batch(protocol, preds, gts, [tag] * n, visibles or [None] * n, [None] * n,
                         [f"s{i}" for i in range(n)], aux_gts=aux)
    curves = [average_curves(protocol, arrays[k][None])[0] for k in ("success", "precision", "norm_precision")]
    return protocol_scores(protocol, *curves)


# --- LasHeR ------------------------------------------------------------------------------------------------------

LASHER_GT = np.array([GT, GT, GT, GT, [0.0, 0.0, 0.0, 0.0]])  # the last frame: absent (w = h = 0)
LASHER_PRED = np.array([[0, 0, 5, 5],      # frame 1 := ground truth -> IoU 1, error 0
                        [13, 10, 20, 20],  # 3 px right: IoU 17*20 / (800 - 340) = 340/460, error 3, norm 0.15
                        [40, 10, 20, 20],  # 30 px right: IoU 0, error 30, norm 1.5
                        [0, 0, 0, 5],      # w <= 0 -> previous row (40, 10, 20, 20): IoU 0, error 30
                        [5, 5, 5, 5]], dtype=float)  # ground truth <= 0: IoU -1, both errors -1


def test_lasher_toy_case_by_hand():
    s = scores("lasher", [LASHER_PRED], [LASHER_GT], "lasher")
    # PR: errors 0, 3, 30, 30, -1 -> 3 of 5 within 20 px; NPR: 0, 0.15, 1.5, 1.5, -1 -> 3 of 5 within 0.20.
    assert s["PR"] == pytest.approx(100 * 3 / 5)
    assert s["NPR"] == pytest.approx(100 * 3 / 5)
    # SR: IoU 1 passes 20 of the 21 thresholds (not 1.0), 0.739 passes 0 .. 0.70 (15), the rest none.
    assert s["SR"] == pytest.approx(100 * (20 + 15) / (5 * 21))
    assert list(s) == ["PR", "NPR", "SR"]
    # pytracking/STARK instead count the absent frame's centre error as +inf: a precision failure.
    assert scores("stark", [LASHER_PRED], [LASHER_GT], "lasher")["Precision"] == pytest.approx(100 * 2 / 5)


def test_lasher_ignores_absence_flags_like_its_toolkit():
    hidden = [np.array([1, 1, 0, 0, 0], dtype=bool)]
    assert scores("lasher", [LASHER_PRED], [LASHER_GT], "lasher", hidden) == \
        scores("lasher", [LASHER_PRED], [LASHER_GT], "lasher")


# --- VisEvent ----------------------------------------------------------------------------------------------------

def test_visevent_absent_frames_are_failures():
    gt = np.array([GT] * 4)
    present = [np.array([1, 1, 1, 0], dtype=bool)]
    s = scores("visevent", [gt.copy()], [gt], "visevent", present)
    # perfect boxes; the absent frame leaves the numerator, not the denominator
    assert s == pytest.approx({"PR": 100 * 3 / 4, "SR": 100 * (3 * 20) / (4 * 21)})
    assert scores("visevent", [gt.copy()], [gt], "visevent") == pytest.approx({"PR": 100.0, "SR": 100 * 20 / 21})


# --- RGBT234 -----------------------------------------------------------------------------------------------------

def test_rgbt234_takes_the_better_modality_per_frame():
    visible = np.array([GT, GT, GT])
    infrared = np.array([GT, [40, 10, 20, 20], GT])
    pred = np.array([GT, [40, 10, 20, 20], [13, 10, 20, 20]])
    s = scores("rgbt234", [pred], [visible], "rgbt234", aux=[infrared])
    # frame 2 matches the infrared box exactly: max IoU 1, min error 0; frame 3: IoU 340/460 (15 thresholds), 3 px
    assert s == pytest.approx({"MPR": 100.0, "MSR": 100 * (20 + 20 + 15) / (3 * 21)})
    # against the visible box only (any RGB protocol), frame 2 fails both
    assert scores("stark", [pred], [visible], "rgbt234")["Precision"] == pytest.approx(100 * 2 / 3)


def test_rgbt234_keeps_the_first_frame_as_reported():
    visible = np.array([GT, GT])
    far = np.array([[100, 100, 20, 20], GT])  # no `frame 1 := ground truth` in calcPlotErr_TPR.m
    assert scores("rgbt234", [far], [visible], "rgbt234", aux=[visible])["MPR"] == pytest.approx(50.0)


def test_rgbt234_needs_the_infrared_ground_truth():
    with pytest.raises(ValueError, match="infrared"):
        scores("rgbt234", [np.array([GT])], [np.array([GT])], "rgbt234", aux=[None])


# --- LasHeR-style numbers equal the RGB OPE numbers when the modalities share the ground truth ------------------

@pytest.fixture
def shared_gt(tmp_path):
    """4 sequences, valid boxes (all coordinates > 0), results with frame 0 = ground truth, as our runner writes."""
    rng = np.random.default_rng(3)
    seqs = []
    folder = tmp_path / "trk" / "cfg"
    for i, tag in enumerate(["lasher", "lasher", "rgbt234", "rgbt234"]):
        gt = np.column_stack([rng.uniform(30, 200, (60, 2)), rng.uniform(15, 60, (60, 2))])
        pred = gt + rng.normal(0, 8, gt.shape)
        pred[:, 2:] = np.abs(pred[:, 2:]) + 1
        pred[0] = gt[0]
        (folder / tag).mkdir(parents=True, exist_ok=True)
        np.savetxt(folder / tag / f"seq{i}.txt", pred, fmt="%.6f", delimiter="\t")
        seqs.append(SimpleNamespace(name=f"seq{i}", dataset=tag, ground_truth_rect=gt, target_visible=None,
                                    ground_truth_rect_aux=gt.copy()))
    return SimpleNamespace(seqs=seqs, results=str(tmp_path))


@pytest.mark.parametrize("protocol,tag,pairs", [
    ("lasher", "lasher", (("PR", "Precision"), ("NPR", "Norm Precision"), ("SR", "AUC"))),
    ("rgbt234", "rgbt234", (("MPR", "Precision"), ("MSR", "AUC"))),
])
def test_multimodal_numbers_equal_rgb_ope_numbers_with_shared_ground_truth(shared_gt, protocol, tag, pairs):
    seqs = [s for s in shared_gt.seqs if s.dataset == tag]
    tracker = [TrackerSpec("trk", "cfg")]
    ours = evaluate(tracker, seqs, shared_gt.results, ScoringRules(protocol)).scores()[0]
    ope = evaluate(tracker, seqs, shared_gt.results, ScoringRules("pytracking")).scores()[0]
    for name, ope_name in pairs:
        assert ours[name] == pytest.approx(ope[ope_name], abs=1e-9), name
    assert 10 < ours[pairs[0][0]] < 95  # a real mix of hits and misses


# --- protocol choice ---------------------------------------------------------------------------------------------

def test_dataset_tags_choose_their_community_protocol():
    assert [default_protocol([t]) for t in ("lasher", "rgbt234", "visevent", "depthtrack", "vot_rgbd2022")] == \
        ["lasher", "rgbt234", "visevent", "vot_longterm", "vot_longterm"]
    assert default_protocol(["lasot"]) == "stark" and default_protocol(["lasher", "lasot"]) == "stark"
    check_protocol("stark", ["lasher"])  # box-per-frame benchmarks also take the generic OPE protocols
    for protocol, tags in (("lasher", ["lasot"]), ("vot_longterm", ["lasher"]), ("stark", ["depthtrack"]),
                           ("got10k", ["visevent"]), ("rgbt234", ["lasher"])):
        with pytest.raises(ProtocolMismatchError, match="--protocol"):
            check_protocol(protocol, tags)


# --- VOT long-term -----------------------------------------------------------------------------------------------

def test_vot_overlap_rules():
    gt = np.array([GT] * 5)
    pred = np.array([GT, [20, 10, 20, 20], [0.5, 10, 20, 20], [1.5, 10, 20, 20], GT], dtype=float)
    out = vot_overlaps(pred, gt, np.zeros(5, bool), np.array([0, 0, 0, 0, 1], bool))
    # identical; half shifted 200/600; 0.5 rounds to 0 (half to even): cols 0..19 vs 10..29 -> 10*20/(800-200);
    # 1.5 rounds to 2: cols 2..21 -> 12*20 / (800 - 240); a box where the target is absent: 0
    np.testing.assert_allclose(out, [1, 1 / 3, 200 / 600, 240 / 560, 0])
    both_empty = vot_overlaps(np.array([GT]), np.array([GT]), np.array([True]), np.array([True]))
    assert both_empty[0] == 1.0
    # bounded by the image (default in the toolkit): only the pixels inside count
    partly_out = np.array([[-10.0, 0, 20, 10]])
    inside = np.array([[0.0, 0, 10, 10]])
    assert vot_overlaps(partly_out, inside, [False], [False], (100, 100))[0] == 1.0
    assert vot_overlaps(partly_out, inside, [False], [False])[0] == 0.5


def test_longterm_f_score_toy_case_by_hand():
    gt = np.array([GT, GT, GT, GT, [np.nan] * 4])  # the target leaves in the last frame
    pred = np.array([GT, GT, [20, 10, 20, 20], [100, 100, 20, 20], GT])
    conf = np.array([np.nan, 0.9, 0.5, 0.2, 0.7])
    overlap, confidence, present = longterm_frames(pred, gt, np.ones(5, bool), conf)
    # frame 0 is the initialisation frame (empty region, confidence 0); frame 4 reports a box while absent: 0
    np.testing.assert_allclose(overlap, [0, 1, 1 / 3, 0, 0])
    np.testing.assert_allclose(confidence, [0, 0.9, 0.5, 0.2, 0.7])
    assert present.tolist() == [True, True, True, True, False]
    thresholds = longterm_thresholds([confidence])
    np.testing.assert_allclose(thresholds, [np.inf, 0.9, 0.7, 0.5, 0.2, 0.0, -np.inf])
    precision, recall = longterm_curves(overlap, confidence, present, thresholds)
    # >= 0.9: {1}; >= 0.7: {1, 4}; >= 0.5: + {2}; >= 0.2: + {3}; >= 0: + {0}; recall over the 4 present frames
    np.testing.assert_allclose(precision, [1, 1, 1 / 2, 4 / 9, 1 / 3, 4 / 15, 4 / 15])
    np.testing.assert_allclose(recall, [0, 1 / 4, 1 / 4, 1 / 3, 1 / 3, 1 / 3, 1 / 3])
    # F per threshold: 0, 2/5, 1/3, 8/21, 1/3, 8/27, 8/27 -> best 0.4 at 0.9 (Pr 1, Re 1/4)
    assert longterm_scores(precision, recall) == pytest.approx({"Pr": 100.0, "Re": 25.0, "F-score": 40.0})


def test_longterm_thresholds_subsample_many_confidences():
    scores_ = np.arange(1.0, 201.0)  # 200 values -> delta = floor(200 / 98) = 2
    thresholds = longterm_thresholds([scores_[:120], scores_[120:], np.array([np.nan])])
    descending = scores_[::-1]
    assert len(thresholds) == 100 and thresholds[0] == np.inf and thresholds[-1] == -np.inf
    assert thresholds[1] == descending[2] and thresholds[-2] == descending[198]
    np.testing.assert_array_equal(thresholds[1:-1], descending[np.round(np.linspace(2, 198, 98)).astype(int)])
