"""Per-frame errors, per-sequence curves and summary scores for one-pass evaluation (OPE), numpy only.

The per-frame rules follow pytracking's `calc_seq_err_robust` (which STARK, OSTrack and SeqTrack copy), including
its conventions, so published numbers are reproduced:
  * pixel-inclusive boxes: IoU with `x2 = x + w - 1` and `+1` on the intersection side; centres `x + (w - 1) / 2`.
  * a prediction with NaN or negative width/height is an error; NaN ground truth is an error except for the
    datasets that mark absence that way (UAV123, tag 'uav').
  * a zero-width/height prediction at frame i >= 1 is replaced by the (already repaired) previous prediction,
    except where the ground-truth row is NaN.
  * length mismatch: too long is truncated; too short raises for 'lasot' and is padded with zero boxes (which
    score 0 and are not repaired) elsewhere.
  * frame 0's prediction is replaced by the ground truth and counted (IoU 1).
  * a frame is valid when the ground truth has w > 0 and h > 0 (`validity='wh'`, the STARK/OSTrack/SeqTrack copy)
    or all four numbers > 0 (`validity='xywh'`, pytracking HEAD), and the target is visible when the sequence
    has visibility flags. Invalid frames get overlap -1 and stay in the denominator, so they are failures.

Where pytracking scores invalid frames inconsistently, the default here counts them as failures in every curve
(centre and normalised centre error +inf), and `legacy=True` reproduces pytracking exactly:
  * legacy normalised error of invalid frames is -1 (a success at every threshold); only the tag 'lasot' resets
    frames with `target_visible == 0` to +inf. So on LaSOT-extension ('lasot_extension_subset'), GOT-10k,
    TrackingNet, ... absent/invalid frames are failures for success and precision but successes for normalised
    precision (+5.00 N on a set with 5% absent frames).
  * legacy UAV ('uav') centre error of NaN-ground-truth frames is -1: a failure for success, a success for
    precision and normalised precision.
  * legacy overlap thresholds are the float64 values of `torch.arange(0, 1.05, 0.05)` (0.15000000000000002, ...);
    the default uses k/20.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SeqErrors", "InvalidResultsError", "iou_inclusive", "center_error", "repair_zero_size", "calc_seq_err_robust",
    "overlap_thresholds", "CENTER_THRESHOLDS", "NORM_CENTER_THRESHOLDS", "SeqCurves", "seq_curves",
    "summary_scores", "SCORE_NAMES", "got10k_iou", "got10k_seq_stats", "got10k_scores", "VALIDITY_RULES",
    "NAN_GT_DATASETS", "STRICT_LENGTH_DATASETS",
]

# Tags whose ground truth marks absence with NaN rows (pytracking tolerates NaN only for 'uav').
NAN_GT_DATASETS = frozenset({"uav"})
# Tags for which a result shorter than the ground truth is an error (elsewhere it is padded with zero boxes).
STRICT_LENGTH_DATASETS = frozenset({"lasot"})
VALIDITY_RULES = ("wh", "xywh")

_OVERLAP_THRESHOLDS = np.arange(21) / 20.0
# torch.arange(0.0, 1.05, 0.05, dtype=torch.float64) as pytracking builds it (differs from k/20 in the last bit
# at 9 of the 21 points, which decides ties such as an IoU of exactly 0.15).
_LEGACY_OVERLAP_THRESHOLDS = np.array([
    0.0, 0.05, 0.1, 0.15000000000000002, 0.2, 0.25, 0.30000000000000004, 0.35000000000000003, 0.4, 0.45, 0.5,
    0.55, 0.6000000000000001, 0.6500000000000001, 0.7000000000000001, 0.7500000000000001, 0.8,
    0.8500000000000001, 0.9, 0.9500000000000001, 1.0])
CENTER_THRESHOLDS = np.arange(51, dtype=np.float64)
NORM_CENTER_THRESHOLDS = np.arange(51, dtype=np.float64) / 100.0
_OP50, _OP75, _AT20 = 10, 15, 20
SCORE_NAMES = ("AUC", "OP50", "OP75", "Precision", "Norm Precision")


class InvalidResultsError(ValueError):
    """A result or ground-truth array that cannot be scored (NaN, negative size, wrong length)."""


@dataclass(frozen=True)
class SeqErrors:
    overlap: np.ndarray       # (N,) IoU; -1 on invalid frames
    center: np.ndarray        # (N,) centre distance in pixels
    center_norm: np.ndarray   # (N,) centre distance with both centres divided by the GT size
    valid: np.ndarray         # (N,) bool


def overlap_thresholds(legacy: bool = False) -> np.ndarray:
    """The 21 success-curve thresholds 0, 0.05, ..., 1 (success is IoU strictly greater)."""
    return _LEGACY_OVERLAP_THRESHOLDS if legacy else _OVERLAP_THRESHOLDS


def iou_inclusive(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of (N,4) xywh boxes with pixel-inclusive corners (pytracking `calc_iou_overlap`, same operation order)."""
    tl = np.maximum(pred[:, :2], gt[:, :2])
    br = np.minimum(pred[:, :2] + pred[:, 2:] - 1.0, gt[:, :2] + gt[:, 2:] - 1.0)
    inter = np.clip(br - tl + 1.0, 0.0, None).prod(axis=1)
    union = pred[:, 2:].prod(axis=1) + gt[:, 2:].prod(axis=1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union


def center_error(pred: np.ndarray, gt: np.ndarray, normalized: bool = False) -> np.ndarray:
    """Euclidean distance of the centres `xy + (wh - 1) / 2`; normalised: both centres divided by the GT wh."""
    pred_c = pred[:, :2] + 0.5 * (pred[:, 2:] - 1.0)
    gt_c = gt[:, :2] + 0.5 * (gt[:, 2:] - 1.0)
    if normalized:
        with np.errstate(divide="ignore", invalid="ignore"):
            pred_c = pred_c / gt[:, 2:]
            gt_c = gt_c / gt[:, 2:]
    d = pred_c - gt_c
    return np.sqrt((d * d).sum(axis=1))


def repair_zero_size(pred: np.ndarray, gt_nan_rows: np.ndarray) -> np.ndarray:
    """Replace zero-width/height boxes at frames >= 1 by the previous (already repaired) box, vectorised.

    pytracking's sequential loop copies row i-1 into row i, so a run of zero boxes takes the last box before the
    run; a zero box on a NaN-GT row is kept, and the rows after it copy it. Hence each row takes the last row at
    or before it that is not itself repaired.
    """
    repair = (pred[:, 2:] == 0.0).any(axis=1) & ~gt_nan_rows
    repair[:1] = False
    if not repair.any():
        return pred
    source = np.arange(len(pred))
    source[repair] = 0
    np.maximum.accumulate(source, out=source)
    return pred[source]


def _where(seq_name: str) -> str:
    return f"sequence '{seq_name}': " if seq_name else ""


def _check_inputs(pred: np.ndarray, gt: np.ndarray, dataset: str, seq_name: str) -> np.ndarray:
    """Validate shapes and values; returns the GT NaN-row mask."""
    for what, arr in (("prediction", pred), ("ground truth", gt)):
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise InvalidResultsError(f"{_where(seq_name)}{what} must be an (N, 4) array, got shape {arr.shape}")
    if len(gt) == 0:
        raise InvalidResultsError(f"{_where(seq_name)}empty ground truth")
    bad = np.isnan(pred).any(axis=1) | (pred[:, 2:] < 0.0).any(axis=1)
    if bad.any():
        raise InvalidResultsError(f"{_where(seq_name)}prediction row {int(np.argmax(bad))} has NaN or a negative "
                                  f"width/height ({int(bad.sum())} such rows)")
    gt_nan = np.isnan(gt).any(axis=1)
    if gt_nan.any() and dataset not in NAN_GT_DATASETS:
        raise InvalidResultsError(f"{_where(seq_name)}ground-truth row {int(np.argmax(gt_nan))} has NaN, allowed only "
                                  f"for datasets {sorted(NAN_GT_DATASETS)} (this one is '{dataset}')")
    return gt_nan


def _fit_length(pred: np.ndarray, n: int, dataset: str, seq_name: str) -> np.ndarray:
    if len(pred) > n:
        return pred[:n]
    if len(pred) < n and dataset in STRICT_LENGTH_DATASETS:
        raise InvalidResultsError(f"{_where(seq_name)}{len(pred)} predicted boxes for {n} ground-truth frames "
                                  f"(dataset '{dataset}' requires at least one box per frame)")
    return pred


def _valid_frames(gt: np.ndarray, target_visible: np.ndarray | None, validity: str, seq_name: str) -> np.ndarray:
    if validity == "wh":
        valid = (gt[:, 2] > 0.0) & (gt[:, 3] > 0.0)
    elif validity == "xywh":
        valid = (gt > 0.0).all(axis=1)
    else:
        raise ValueError(f"validity must be one of {VALIDITY_RULES}, got '{validity}'")
    if target_visible is not None:
        visible = np.asarray(target_visible).astype(bool).ravel()
        if len(visible) != len(gt):
            raise InvalidResultsError(f"{_where(seq_name)}{len(visible)} visibility flags for {len(gt)} "
                                      f"ground-truth frames")
        valid &= visible
    return valid


def calc_seq_err_robust(pred_bb: np.ndarray, anno_bb: np.ndarray, dataset: str,
                        target_visible: np.ndarray | None = None, *, legacy: bool = False, validity: str = "wh",
                        seq_name: str = "") -> SeqErrors:
    """Per-frame overlap, centre error and normalised centre error (rules in the module docstring).

    `dataset` is the sequence's dataset tag ('lasot', 'uav', 'got10k', 'lasot_extension_subset', ...).
    """
    pred = np.asarray(pred_bb, dtype=np.float64)
    gt = np.asarray(anno_bb, dtype=np.float64)
    gt_nan = _check_inputs(pred, gt, dataset, seq_name)
    n = len(gt)
    pred = _fit_length(pred, n, dataset, seq_name)
    pred = repair_zero_size(pred, gt_nan[:len(pred)])
    if len(pred) < n:
        pred = np.concatenate((pred, np.zeros((n - len(pred), 4))))
    else:
        pred = pred.copy()
    pred[0] = gt[0]
    valid = _valid_frames(gt, target_visible, validity, seq_name)

    overlap = iou_inclusive(pred, gt)
    center = center_error(pred, gt)
    center_norm = center_error(pred, gt, normalized=True)
    invalid = ~valid
    overlap[invalid] = -1.0
    if legacy:
        center[invalid] = -1.0 if dataset == "uav" else np.inf
        center_norm[invalid] = -1.0
        if dataset == "lasot" and target_visible is not None:
            hidden = ~np.asarray(target_visible).astype(bool).ravel()
            center[hidden] = np.inf
            center_norm[hidden] = np.inf
    else:
        center[invalid] = np.inf
        center_norm[invalid] = np.inf
    if np.isnan(overlap).any():
        raise InvalidResultsError(f"{_where(seq_name)}NaN overlap at frame {int(np.argmax(np.isnan(overlap)))}")
    return SeqErrors(overlap, center, center_norm, valid)


@dataclass(frozen=True)
class SeqCurves:
    success: np.ndarray         # (21,) share of frames with IoU > threshold
    precision: np.ndarray       # (51,) share with centre error <= 0..50 px
    norm_precision: np.ndarray  # (51,) share with normalised error <= 0..0.5
    ao: float                   # mean IoU over valid frames (NaN when there is none)


def _share_above(values: np.ndarray, thresholds: np.ndarray, denominator: float) -> np.ndarray:
    s = np.sort(values)
    return (len(s) - np.searchsorted(s, thresholds, side="right")) / denominator


def _share_at_most(values: np.ndarray, thresholds: np.ndarray, denominator: float) -> np.ndarray:
    return np.searchsorted(np.sort(values), thresholds, side="right") / denominator


def seq_curves(errors: SeqErrors, *, exclude_invalid: bool = False, legacy: bool = False) -> SeqCurves:
    """Success / precision / normalised-precision curves of one sequence.

    The denominator is every ground-truth frame (pytracking's default) or, with `exclude_invalid`, only the valid
    ones (then invalid frames leave numerator and denominator; with `legacy` their -1 normalised errors still
    count as successes, as in pytracking).
    """
    n_valid = int(errors.valid.sum())
    denominator = float(n_valid if exclude_invalid else len(errors.valid))
    denominator = max(denominator, 1.0)
    success = _share_above(errors.overlap, overlap_thresholds(legacy), denominator)
    precision = _share_at_most(errors.center, CENTER_THRESHOLDS, denominator)
    norm_precision = _share_at_most(errors.center_norm, NORM_CENTER_THRESHOLDS, denominator)
    ao = float(errors.overlap[errors.valid].mean()) if n_valid else float("nan")
    return SeqCurves(success, precision, norm_precision, ao)


def summary_scores(success: np.ndarray, precision: np.ndarray, norm_precision: np.ndarray) -> dict[str, float]:
    """Table scores in percent from (sequence-averaged) curves in [0, 1]: AUC = mean of the 21-point success curve,
    OP50/OP75 = success at 0.50/0.75, Precision = P(20 px), Norm Precision = N(0.20)."""
    return {
        "AUC": 100.0 * float(np.mean(success)),
        "OP50": 100.0 * float(success[_OP50]),
        "OP75": 100.0 * float(success[_OP75]),
        "Precision": 100.0 * float(precision[_AT20]),
        "Norm Precision": 100.0 * float(norm_precision[_AT20]),
    }


# --- GOT-10k protocol (got10k toolkit 0.1.3, ExperimentGOT10k.report) ---------------------------------------

def _clip_to_image(boxes: np.ndarray, bound: tuple[float, float]) -> np.ndarray:
    out = boxes.copy()
    out[:, 0] = np.clip(out[:, 0], 0, bound[0])
    out[:, 1] = np.clip(out[:, 1], 0, bound[1])
    out[:, 2] = np.clip(out[:, 2], 0, bound[0] - out[:, 0])
    out[:, 3] = np.clip(out[:, 3], 0, bound[1] - out[:, 1])
    return out


def got10k_iou(pred: np.ndarray, gt: np.ndarray, bound: tuple[float, float] | None = None) -> np.ndarray:
    """The toolkit's `rect_iou`: continuous corners (`x + w`), boxes optionally clipped to the image (W, H) first,
    `inter / (union + eps)` clipped to [0, 1]; zero or degenerate boxes simply score 0."""
    if bound is not None:
        pred, gt = _clip_to_image(pred, bound), _clip_to_image(gt, bound)
    tl = np.maximum(pred[:, :2], gt[:, :2])
    br = np.minimum(pred[:, :2] + pred[:, 2:], gt[:, :2] + gt[:, 2:])
    inter = np.clip(br - tl, 0.0, None).prod(axis=1)
    union = pred[:, 2:].prod(axis=1) + gt[:, 2:].prod(axis=1) - inter
    return np.clip(inter / (union + np.finfo(np.float64).eps), 0.0, 1.0)


def got10k_seq_stats(preds: list[np.ndarray], gt: np.ndarray, target_visible: np.ndarray | None = None,
                     bound: tuple[float, float] | None = None, seq_name: str = "") -> np.ndarray:
    """[frames, sum IoU, frames with IoU > 0.5, frames with IoU > 0.75] over all repetitions of one sequence.

    Frame 0 (the initialisation) is dropped; frames whose target is not visible (the toolkit's `cover == 0`) are
    dropped; the IoUs of all repetitions are pooled, as the toolkit concatenates them.
    """
    gt = np.asarray(gt, dtype=np.float64)
    keep = np.ones(len(gt), dtype=bool)
    keep[0] = False
    if target_visible is not None:
        keep &= np.asarray(target_visible).astype(bool).ravel()
    stats = np.zeros(4)
    for pred in preds:
        pred = np.asarray(pred, dtype=np.float64)
        if pred.shape != gt.shape:
            raise InvalidResultsError(f"{_where(seq_name)}{len(pred)} predicted boxes for {len(gt)} ground-truth "
                                      f"frames (the GOT-10k protocol needs one box per frame)")
        if np.isnan(pred).any():
            raise InvalidResultsError(f"{_where(seq_name)}prediction contains NaN")
        iou = got10k_iou(pred[keep], gt[keep], bound)
        stats += (iou.size, iou.sum(), (iou > 0.5).sum(), (iou > 0.75).sum())
    return stats


def got10k_scores(stats: np.ndarray, frame_weighted: bool = True) -> dict[str, float]:
    """AO, SR0.50, SR0.75 in percent from per-sequence `got10k_seq_stats` rows (S, 4).

    `frame_weighted=True` pools all frames of all sequences, which is what the got10k toolkit 0.1.3 reports as
    'overall' (longer sequences weigh more); False averages the per-sequence AO/SR (each sequence weighs the same).
    """
    stats = np.asarray(stats, dtype=np.float64).reshape(-1, 4)
    if frame_weighted:
        total = stats.sum(axis=0)
        ratios = total[1:] / max(total[0], 1.0)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.nanmean(stats[:, 1:] / stats[:, :1], axis=0)
    return {"AO": 100.0 * ratios[0], "SR0.50": 100.0 * ratios[1], "SR0.75": 100.0 * ratios[2]}
