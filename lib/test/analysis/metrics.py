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
from typing import Sequence

import numpy as np

__all__ = [
    "SeqErrors", "InvalidResultsError", "iou_inclusive", "center_error", "repair_zero_size", "calc_seq_err_robust",
    "batch_seq_errors", "batch_curves", "overlap_thresholds", "CENTER_THRESHOLDS", "NORM_CENTER_THRESHOLDS",
    "SeqCurves", "seq_curves",
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
    """Per-frame errors of one sequence, or of several laid end to end (sequence i = frames bounds[i]:bounds[i+1])."""
    overlap: np.ndarray       # (N,) IoU; -1 on invalid frames
    center: np.ndarray        # (N,) centre distance in pixels
    center_norm: np.ndarray   # (N,) centre distance with both centres divided by the GT size
    valid: np.ndarray         # (N,) bool
    bounds: np.ndarray | None = None  # (S+1,) frame offsets; None: a single sequence


def overlap_thresholds(legacy: bool = False) -> np.ndarray:
    """The 21 success-curve thresholds 0, 0.05, ..., 1 (success is IoU strictly greater)."""
    return _LEGACY_OVERLAP_THRESHOLDS if legacy else _OVERLAP_THRESHOLDS


def _columns(boxes: np.ndarray) -> np.ndarray:
    """(4, N) contiguous copy: whole-column arithmetic is several times faster than on strided (N, 4) slices."""
    return np.ascontiguousarray(boxes.T)


def iou_inclusive(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of (N,4) xywh boxes with pixel-inclusive corners (pytracking `calc_iou_overlap`, same operation order)."""
    (px, py, pw, ph), (gx, gy, gw, gh) = _columns(pred), _columns(gt)
    with np.errstate(invalid="ignore", divide="ignore"):
        iw = np.minimum(px + pw - 1.0, gx + gw - 1.0) - np.maximum(px, gx) + 1.0
        ih = np.minimum(py + ph - 1.0, gy + gh - 1.0) - np.maximum(py, gy) + 1.0
        inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
        return inter / (pw * ph + gw * gh - inter)


def center_error(pred: np.ndarray, gt: np.ndarray, normalized: bool = False) -> np.ndarray:
    """Euclidean distance of the centres `xy + (wh - 1) / 2`; normalised: both centres divided by the GT wh."""
    return _center_errors(pred, gt)[1 if normalized else 0]


def _center_errors(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pixel, normalised) centre errors, with pytracking's operation order (centres divided, then subtracted)."""
    (px, py, pw, ph), (gx, gy, gw, gh) = _columns(pred), _columns(gt)
    pcx, pcy = px + 0.5 * (pw - 1.0), py + 0.5 * (ph - 1.0)
    gcx, gcy = gx + 0.5 * (gw - 1.0), gy + 0.5 * (gh - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):  # zero-size/NaN GT: invalid frames, overwritten later
        dx, dy = pcx - gcx, pcy - gcy
        pixel = np.sqrt(dx * dx + dy * dy)
        dx, dy = pcx / gw - gcx / gw, pcy / gh - gcy / gh
        normalized = np.sqrt(dx * dx + dy * dy)
    return pixel, normalized


def repair_zero_size(pred: np.ndarray, gt_nan_rows: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Replace zero-width/height boxes at frames >= 1 by the previous (already repaired) box, vectorised.

    pytracking's sequential loop copies row i-1 into row i, so a run of zero boxes takes the last box before the
    run; a zero box on a NaN-GT row is kept, and the rows after it copy it. Hence each row takes the last row at
    or before it that is not itself repaired. `keep` marks further rows never repaired (the first frame of each
    sequence when several are laid end to end, padding).
    """
    repair = ((pred[:, 2] == 0.0) | (pred[:, 3] == 0.0)) & ~gt_nan_rows
    repair[:1] = False
    if keep is not None:
        repair &= ~keep
    if not repair.any():
        return pred
    source = np.arange(len(pred))
    source[repair] = 0
    np.maximum.accumulate(source, out=source)  # a kept first frame has a larger index than every earlier row
    return pred[source]


def _where(seq_name: str) -> str:
    return f"sequence '{seq_name}': " if seq_name else ""


def _check_prediction(pred: np.ndarray, seq_name: str) -> None:
    bad = np.isnan(pred).any(axis=1) | (pred[:, 2:] < 0.0).any(axis=1)
    if bad.any():
        raise InvalidResultsError(f"{_where(seq_name)}prediction row {int(np.argmax(bad))} has NaN or a negative "
                                  f"width/height ({int(bad.sum())} such rows)")


def _check_shapes(pred: np.ndarray, gt: np.ndarray, dataset: str, seq_name: str) -> None:
    for what, arr in (("prediction", pred), ("ground truth", gt)):
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise InvalidResultsError(f"{_where(seq_name)}{what} must be an (N, 4) array, got shape {arr.shape}")
    if len(gt) == 0:
        raise InvalidResultsError(f"{_where(seq_name)}empty ground truth")
    if len(pred) < len(gt) and dataset in STRICT_LENGTH_DATASETS:
        raise InvalidResultsError(f"{_where(seq_name)}{len(pred)} predicted boxes for {len(gt)} ground-truth frames "
                                  f"(dataset '{dataset}' requires at least one box per frame)")


def _frames_of(flags: list[bool], lengths: np.ndarray) -> np.ndarray:
    """Per-frame mask from one flag per sequence."""
    return np.repeat(np.asarray(flags, dtype=bool), lengths)


def calc_seq_err_robust(pred_bb: np.ndarray, anno_bb: np.ndarray, dataset: str,
                        target_visible: np.ndarray | None = None, *, legacy: bool = False, validity: str = "wh",
                        seq_name: str = "") -> SeqErrors:
    """Per-frame overlap, centre error and normalised centre error of one sequence (rules in the module docstring).

    `dataset` is the sequence's dataset tag ('lasot', 'uav', 'got10k', 'lasot_extension_subset', ...).
    """
    return batch_seq_errors([pred_bb], [anno_bb], [dataset], [target_visible], legacy=legacy, validity=validity,
                            names=[seq_name])


def batch_seq_errors(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], datasets: Sequence[str],
                     visibles: Sequence[np.ndarray | None], *, legacy: bool = False, validity: str = "wh",
                     names: Sequence[str] | None = None) -> SeqErrors:
    """`calc_seq_err_robust` for many sequences at once, laid end to end (a few dozen numpy calls in total, so a
    dataset costs about as much as one long sequence). Identical, frame by frame, to scoring them one by one."""
    if validity not in VALIDITY_RULES:
        raise ValueError(f"validity must be one of {VALIDITY_RULES}, got '{validity}'")
    names = list(names) if names is not None else [""] * len(gts)
    preds = [np.asarray(p, dtype=np.float64) for p in preds]
    gts = [np.asarray(g, dtype=np.float64) for g in gts]
    for pred, gt, dataset, name in zip(preds, gts, datasets, names):
        _check_shapes(pred, gt, dataset, name)
    all_preds = np.concatenate(preds)
    if np.isnan(all_preds).any() or (all_preds[:, 2:] < 0.0).any():  # whole files, as pytracking checks them
        for pred, name in zip(preds, names):
            _check_prediction(pred, name)

    lengths = np.array([len(g) for g in gts])
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    gt = np.concatenate(gts)
    gt_nan = np.isnan(gt).any(axis=1)
    if gt_nan.any():
        for i, dataset in enumerate(datasets):
            rows = gt_nan[bounds[i]:bounds[i + 1]]
            if dataset not in NAN_GT_DATASETS and rows.any():
                raise InvalidResultsError(
                    f"{_where(names[i])}ground-truth row {int(np.argmax(rows))} has NaN, allowed only for datasets "
                    f"{sorted(NAN_GT_DATASETS)} (this one is '{dataset}')")

    # Longer predictions are truncated; shorter ones padded with zero boxes that are never repaired.
    pred = np.zeros_like(gt)
    keep = np.zeros(len(gt), dtype=bool)
    keep[bounds[:-1]] = True
    for i, p in enumerate(preds):
        n = min(len(p), lengths[i])
        pred[bounds[i]:bounds[i] + n] = p[:n]
        keep[bounds[i] + n:bounds[i + 1]] = True
    pred = repair_zero_size(pred, gt_nan, keep)
    pred[bounds[:-1]] = gt[bounds[:-1]]

    visible = np.ones(len(gt), dtype=bool)
    for i, flags in enumerate(visibles):
        if flags is not None:
            flags = np.asarray(flags).astype(bool).ravel()
            if len(flags) != lengths[i]:
                raise InvalidResultsError(f"{_where(names[i])}{len(flags)} visibility flags for {lengths[i]} "
                                          f"ground-truth frames")
            visible[bounds[i]:bounds[i + 1]] = flags
    if validity == "wh":
        valid = (gt[:, 2] > 0.0) & (gt[:, 3] > 0.0) & visible
    else:
        valid = (gt > 0.0).all(axis=1) & visible

    overlap = iou_inclusive(pred, gt)
    center, center_norm = _center_errors(pred, gt)
    invalid = ~valid
    overlap[invalid] = -1.0
    if legacy:
        uav = _frames_of([d == "uav" for d in datasets], lengths)
        center[invalid] = np.where(uav[invalid], -1.0, np.inf)
        center_norm[invalid] = -1.0
        hidden = ~visible & _frames_of([d == "lasot" and v is not None for d, v in zip(datasets, visibles)], lengths)
        center[hidden] = np.inf
        center_norm[hidden] = np.inf
    else:
        center[invalid] = np.inf
        center_norm[invalid] = np.inf
    if np.isnan(overlap).any():
        frame = int(np.argmax(np.isnan(overlap)))
        i = int(np.searchsorted(bounds, frame, side="right")) - 1
        raise InvalidResultsError(f"{_where(names[i])}NaN overlap at frame {frame - bounds[i]}")
    return SeqErrors(overlap, center, center_norm, valid, bounds)


@dataclass(frozen=True)
class SeqCurves:
    success: np.ndarray         # (21,) share of frames with IoU > threshold
    precision: np.ndarray       # (51,) share with centre error <= 0..50 px
    norm_precision: np.ndarray  # (51,) share with normalised error <= 0..0.5
    ao: float                   # mean IoU over valid frames (NaN when there is none)


def _counts(values: np.ndarray, thresholds: np.ndarray, seq_id: np.ndarray, n_seq: int, above: bool) -> np.ndarray:
    """(S, K) frame counts per sequence with value > threshold (above) or value <= threshold (not above).

    m = number of thresholds below the value: value > t_j for j < m and value <= t_j for j >= m; so a histogram
    of m per sequence and one cumulative sum give every count (no (N, K) comparison matrix).
    """
    k = len(thresholds)
    m = np.searchsorted(thresholds, values, side="left")
    hist = np.bincount(seq_id * (k + 1) + m, minlength=n_seq * (k + 1)).reshape(n_seq, k + 1)
    if above:
        return hist[:, ::-1].cumsum(axis=1)[:, ::-1][:, 1:]
    return hist.cumsum(axis=1)[:, :k]


def batch_curves(errors: SeqErrors, *, exclude_invalid: bool = False, legacy: bool = False) \
        -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-sequence success (S, 21), precision (S, 51), normalised precision (S, 51) and AO (S,).

    The denominator is every ground-truth frame (pytracking's default) or, with `exclude_invalid`, only the valid
    ones (then invalid frames leave numerator and denominator; with `legacy` their -1 errors still count as
    successes, as in pytracking).
    """
    lengths = np.diff(errors.bounds) if errors.bounds is not None else np.array([len(errors.overlap)])
    n_seq = len(lengths)
    seq_id = np.repeat(np.arange(n_seq), lengths)
    n_valid = np.bincount(seq_id, weights=errors.valid, minlength=n_seq)
    denominator = np.maximum(n_valid if exclude_invalid else lengths, 1.0)[:, None]
    success = _counts(errors.overlap, overlap_thresholds(legacy), seq_id, n_seq, above=True) / denominator
    precision = _counts(errors.center, CENTER_THRESHOLDS, seq_id, n_seq, above=False) / denominator
    norm_precision = _counts(errors.center_norm, NORM_CENTER_THRESHOLDS, seq_id, n_seq, above=False) / denominator
    overlap_sum = np.bincount(seq_id, weights=np.where(errors.valid, errors.overlap, 0.0), minlength=n_seq)
    with np.errstate(divide="ignore", invalid="ignore"):
        ao = np.where(n_valid > 0, overlap_sum / n_valid, np.nan)
    return success, precision, norm_precision, ao


def seq_curves(errors: SeqErrors, *, exclude_invalid: bool = False, legacy: bool = False) -> SeqCurves:
    """Curves of a single sequence (see `batch_curves`)."""
    success, precision, norm_precision, ao = batch_curves(errors, exclude_invalid=exclude_invalid, legacy=legacy)
    return SeqCurves(success[0], precision[0], norm_precision[0], float(ao[0]))


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
