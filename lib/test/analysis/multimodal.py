"""Scoring of the multi-modal benchmarks (RGB-T, RGB-E, RGB-D) as their communities' toolkits compute it. numpy only.

Protocols (entries of `metrics.PROTOCOLS`; `metrics.default_protocol` picks one from the dataset tag):

* `lasher` (LasHeR): the LasHeR MATLAB toolkit (`utils/calc_seq_err_robust.m`, `utils/eval_tracker.m`,
  `res_fig/utils/plot_draw_save.m`; read in xuboyue1999/RGBT-Tracking `LasHeR_Toolkit/`) is the LaSOT toolkit with its
  absence handling commented out, so it is `metrics.lasot_toolkit_errors` without visibility flags: result rows with
  NaN or w, h <= 0 take the previous row, frame 1 := ground truth, a frame whose ground truth has a coordinate <= 0
  (LasHeR marks absence with w = h = 0) scores IoU -1 (a failure) and centre error -1 (a precision success),
  thresholds `0:0.05:1` (`>`) and `0:50` px / `0:0.5` (`<=`), PR = P(20 px), NPR = N(0.20), SR = mean of the 21
  success values, all-zero sequences left out of the average.
* `visevent` (VisEvent): its MATLAB toolkit (wangxiao5791509/VisEvent_SOT_Benchmark `utils/calc_seq_err_robust.m`,
  `eval_tracker.m`, `plot_draw_save.m`) is the LaSOT one with the absent flags (`annos/absent/<seq>.txt`):
  `lasot_toolkit_errors` with the sequence's `target_visible`, absent frames removed from the numerator but not
  the denominator (failures); PR = P(20 px), SR = success AUC.
* `rgbt234` (RGBT234 MPR / MSR): the MPR-MSR-Evaluation MATLAB toolkit (`calcPlotErr_TPR.m`,
  `main_attrDrawCurve_RGBT234.m`; read in jelymewang/MM `RGBT_workspace/MPR-MSR-Evaluation/`): per frame the IoU
  (OTB `calcRectInt`, pixel-inclusive) is computed against the visible AND the infrared ground truth and the larger
  one kept (`err = max(errV, errI)`); the centre error (centres `x + w/2`) against both and the smaller one kept
  (`errCenter = min(errCenterV, errCenterI)`). MATLAB's max/min skip NaN, so does `np.fmax`/`np.fmin` here. No
  first-frame replacement, no repair of bad rows, no validity rule; results longer than the ground truth are cut.
  MPR = share of frames with error <= 20 px, MSR = mean of the success curve over `0:0.05:1` (`>`), each averaged
  over sequences (every sequence weighs the same).
* `vot_longterm` (DepthTrack; VOT-RGBD scored the long-term way): vot-toolkit `analysis/longterm.py`
  (`determine_thresholds`, `compute_tpr_curves`, `PrecisionRecallCurve(s)`, `FScoreCurve`, `PrecisionRecall`) with
  the rasterised overlap of `region/raster.py`; the functions below say which rule each implements, and
  tests/external/test_vot_longterm_reference.py checks them against vot-toolkit 0.9.0 itself (equal overlaps and
  thresholds, curves within 1e-15). VOT-RGBD2022's official stack is the multi-start EAO experiment, which this
  does not reproduce.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from lib.test.analysis.metrics import InvalidResultsError, SeqErrors, _lay_out, check_box_per_frame, iou_inclusive

__all__ = ["rgbt234_errors", "vot_overlaps", "longterm_frames", "longterm_thresholds", "longterm_curves",
           "longterm_scores", "LONGTERM_RESOLUTION"]

# vot-toolkit `_Thresholds.resolution` default: at most 100 thresholds, +inf and -inf included.
LONGTERM_RESOLUTION = 100


# --- RGBT234 ---------------------------------------------------------------------------------------------------

def _centers_half(boxes: np.ndarray) -> np.ndarray:
    """`x + w/2, y + h/2`: the MPR toolkit's centres (corner boxes x1 + (x2 - x1)/2 for the ground truth)."""
    return boxes[:, :2] + boxes[:, 2:] / 2.0


def rgbt234_errors(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], aux_gts: Sequence[np.ndarray | None],
                   names: Sequence[str] | None = None) -> SeqErrors:
    """Per-frame errors of the RGBT234 MPR/MSR toolkit (module docstring): overlap = max over the visible and
    infrared ground truth, centre error = min over both; `center_norm` is unused (no normalised curve)."""
    names = list(names) if names is not None else [""] * len(gts)
    for aux, gt, name in zip(aux_gts, gts, names):
        if aux is None:
            raise InvalidResultsError(f"sequence '{name}': no infrared ground truth (ground_truth_rect_aux), which "
                                      f"the rgbt234 protocol needs")
        if np.shape(aux) != np.shape(gt):
            raise InvalidResultsError(f"sequence '{name}': {len(aux)} infrared ground-truth rows for {len(gt)} "
                                      f"visible ones")
    b = _lay_out(preds, gts, ["rgbt234"] * len(gts), [None] * len(gts), names, strict=[True] * len(gts),
                 allow_nan_pred=False, pad_value=0.0)
    aux = np.concatenate([np.asarray(a, dtype=np.float64) for a in aux_gts])
    center = _centers_half(b.pred)
    with np.errstate(invalid="ignore"):
        overlap = np.fmax(iou_inclusive(b.pred, b.gt), iou_inclusive(b.pred, aux))
        distance = np.fmin(np.linalg.norm(center - _centers_half(b.gt), axis=1),
                           np.linalg.norm(center - _centers_half(aux), axis=1))
    # NaN (a NaN ground-truth row in both modalities) fails every threshold, as MATLAB's comparisons do.
    overlap = np.where(np.isnan(overlap), -1.0, overlap)
    distance = np.where(np.isnan(distance), np.inf, distance)
    return SeqErrors(overlap, distance, np.full_like(distance, np.inf), overlap >= 0.0, b.bounds)


# --- VOT long-term (DepthTrack, VOT-RGBD) ------------------------------------------------------------------------

def _pixel_bounds(boxes: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """(N, 4) inclusive pixel bounds (left, top, right, bottom) as `raster._bounds_rectangle` computes them from
    the rounded rectangle (`_infer_meta` rounds x, y, w, h half to even first); empty regions get (0, 0, 0, 0)."""
    r = np.round(boxes)
    out = np.column_stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2] - 1, r[:, 1] + r[:, 3] - 1])
    out[empty] = 0.0
    return out


def _pixels(bounds: np.ndarray, area: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Pixels of each rectangle inside the raster area (left, top, right, bottom), 0 for an empty region."""
    w = np.minimum(bounds[:, 2], area[:, 2]) - np.maximum(bounds[:, 0], area[:, 0]) + 1
    h = np.minimum(bounds[:, 3], area[:, 3]) - np.maximum(bounds[:, 1], area[:, 1]) + 1
    return np.where(empty, 0.0, np.clip(w, 0, None) * np.clip(h, 0, None))


def vot_overlaps(pred: np.ndarray, gt: np.ndarray, pred_empty: np.ndarray, gt_empty: np.ndarray,
                 bound: tuple[float, float] | None = None) -> np.ndarray:
    """Per-frame overlap of the VOT toolkit's `calculate_overlaps` for rectangles (`raster._calculate_overlap`),
    in closed form instead of rasterising:

    * both regions are rounded and become inclusive pixel spans `[x, x + w - 1]`; an empty region (absent target,
      or the initialisation frame of a trajectory) has bounds (0, 0, 0, 0) and no pixels;
    * if the union of both bounds has no extent (left >= right or top >= bottom) the overlap is 1 ("two empty
      regions are identical"; the toolkit's test also catches one-pixel-wide unions);
    * with `bound` = (W, H) (the toolkit's default `bounded=True`) the raster area is that union clipped to
      [0, W - 1] x [0, H - 1]; an area without extent gives 0;
    * overlap = common pixels / pixels of either, inside the area (0 when neither has any).
    """
    pred_empty, gt_empty = np.asarray(pred_empty, bool), np.asarray(gt_empty, bool)
    a, b = _pixel_bounds(pred, pred_empty), _pixel_bounds(gt, gt_empty)
    union = np.column_stack([np.minimum(a[:, :2], b[:, :2]), np.maximum(a[:, 2:], b[:, 2:])])
    identical = (union[:, 0] >= union[:, 2]) | (union[:, 1] >= union[:, 3])
    area = union.copy()
    if bound is not None:
        area[:, :2] = np.maximum(area[:, :2], 0)
        area[:, 2] = np.minimum(area[:, 2], bound[0] - 1)
        area[:, 3] = np.minimum(area[:, 3], bound[1] - 1)
    outside = (area[:, 0] >= area[:, 2]) | (area[:, 1] >= area[:, 3])
    common = np.column_stack([np.maximum(a[:, :2], b[:, :2]), np.minimum(a[:, 2:], b[:, 2:])])
    inter = _pixels(common, area, pred_empty | gt_empty)
    either = _pixels(a, area, pred_empty) + _pixels(b, area, gt_empty) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        overlap = np.where(either > 0, inter / either, 0.0)
    return np.where(identical, 1.0, np.where(outside, 0.0, overlap))


def longterm_frames(pred: np.ndarray, gt: np.ndarray, present: np.ndarray, confidence: np.ndarray,
                    bound: tuple[float, float] | None = None, seq_name: str = "") \
        -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(overlap, confidence, target present) per frame of one run, as the
    toolkit's `compute_tpr_curves` sees a trajectory of the unsupervised experiment:

    * frame 0 is the initialisation frame: its region is the special 'initialization' code (an empty region, so
      overlap 0 with a present target) and it carries no confidence (`properties.get('confidence', 0)` -> 0);
    * a frame whose target is absent (`present` False: NaN ground truth, which VOT reads as a special region, or
      an absence flag) is empty ground truth: a reported box there scores 0, and it is not counted in the
      recall denominator (`n_visible` counts non-special ground-truth regions);
    * a missing confidence (NaN) also counts as 0.
    """
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    present = np.asarray(present, dtype=bool).ravel() & ~np.isnan(gt).any(axis=1)
    confidence = np.asarray(confidence, dtype=np.float64).ravel()
    check_box_per_frame(pred, gt, "the long-term protocol", seq_name)
    if len(confidence) != len(gt):
        raise InvalidResultsError(f"sequence '{seq_name}': {len(confidence)} confidences for {len(gt)} "
                                  f"ground-truth frames (the long-term protocol needs one per frame)")
    pred_empty = np.zeros(len(gt), dtype=bool)
    pred_empty[0] = True
    overlap = vot_overlaps(pred, np.nan_to_num(gt), pred_empty, ~present, bound)
    confidence = np.nan_to_num(confidence, nan=0.0)
    confidence[0] = 0.0
    return overlap, confidence, present


def longterm_thresholds(confidences: Sequence[np.ndarray], resolution: int = LONGTERM_RESOLUTION) -> np.ndarray:
    """`determine_thresholds`: every frame's confidence of every sequence and run, NaN dropped, sorted
    descending; with more than `resolution - 2` values, `resolution - 2` of them at the indices
    `round(linspace(d, n - d, resolution - 2))`, d = floor(n / (resolution - 2)), else all; then +inf first and
    -inf last."""
    scores = np.concatenate([np.asarray(c, dtype=np.float64).ravel() for c in confidences] or [np.zeros(0)])
    scores = np.sort(scores[~np.isnan(scores)])[::-1]
    if len(scores) > resolution - 2:
        delta = math.floor(len(scores) / (resolution - 2))
        scores = scores[np.round(np.linspace(delta, len(scores) - delta, num=resolution - 2)).astype(int)]
    return np.concatenate(([np.inf], scores, [-np.inf]))


def longterm_curves(overlap: np.ndarray, confidence: np.ndarray, present: np.ndarray, thresholds: np.ndarray) \
        -> tuple[np.ndarray, np.ndarray]:
    """`compute_tpr_curves` of one run: for each threshold t, the frames reported with confidence >= t give
    precision = their mean overlap and recall = their summed overlap / the number of frames with the target
    present; no such frame: precision 1, recall 0."""
    selected = confidence[None, :] >= thresholds[:, None]            # (K, N)
    count = selected.sum(axis=1)
    total = (selected * overlap[None, :]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(count > 0, total / np.maximum(count, 1), 1.0)
        recall = np.where(count > 0, total / np.count_nonzero(present), 0.0)
    return precision, recall


def longterm_scores(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """`FScoreCurve` + `PrecisionRecall` from the sequence-averaged curves: F = 2 Pr Re / (Pr + Re) per threshold
    (beta 1; 0 where both are 0, where the toolkit would divide by zero), the first maximum gives the F-score and
    the precision and recall reported with it. Percent."""
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f))
    return {"Pr": 100.0 * float(precision[best]), "Re": 100.0 * float(recall[best]), "F-score": 100.0 * float(f[best])}
