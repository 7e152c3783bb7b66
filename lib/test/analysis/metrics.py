"""Per-frame errors, per-sequence curves and summary scores for one-pass evaluation (OPE), numpy only.

Each evaluation protocol equals one reference implementation (`PROTOCOLS`, selected with `--protocol`):

* `pytracking`: pytracking's `calc_seq_err_robust` / `extract_results` (visionml/pytracking HEAD 7eb9e74).
  - pixel-inclusive boxes: IoU with `x2 = x + w - 1` and `+1` on the intersection side; centres `x + (w - 1) / 2`.
  - a prediction with NaN (or inf, our addition: a corrupt file) or a negative width/height is an error; NaN
    ground truth is an error except for the tag 'uav' (UAV123 marks absence that way).
  - a zero-width/height prediction at frame i >= 1 takes the (already repaired) previous prediction, except
    where the ground-truth row is NaN.
  - too long is truncated; too short raises for 'lasot' and is padded with zero boxes (never repaired) elsewhere.
  - frame 0's prediction is replaced by the ground truth and counted (IoU 1).
  - valid frame: all four ground-truth numbers > 0, and visible where pytracking's reader passes flags (LaSOT,
    LaSOT extension, AVisT; not GOT-10k, whose cover labels only the got10k protocol uses). Invalid frames get
    IoU -1 (a failure) and stay in the denominator; their centre error is +inf, except for 'uav' where it is -1
    (a success), and their normalised centre error is -1 (a success), except that the tag 'lasot' resets
    invisible frames to +inf in both centre errors.
  - overlap thresholds are the float64 values of `torch.arange(0, 1.05, 0.05)` (0.15000000000000002, ...), IoU
    strictly greater; centre 0..50 px and normalised 0..0.50, both `<=`.
* `stark`: the copy in STARK / OSTrack / SeqTrack (researchmm/Stark `lib/test/analysis/extract_results.py`):
  identical except that a frame is valid when the ground truth has w > 0 and h > 0 (x or y may be 0).
* `lasot_toolkit`: the LaSOT MATLAB toolkit (HengLan/LaSOT_Evaluation_Toolkit `calc_seq_err_robust.m`,
  `eval_tracker.m`, `plot_draw_save.m`): a prediction row at frame >= 1 with NaN or w <= 0 or h <= 0 takes the
  previous row (no error); a shorter result is an error; absent frames leave the numerator but not the
  denominator; a visible frame whose ground truth has a coordinate <= 0 gets IoU -1 but centre errors -1 (a
  precision success); thresholds `0:0.05:1` as MATLAB's colon operator builds them (from both ends); sequences
  whose whole curve is zero are left out of that curve's average.
* `got10k`: the got10k toolkit 0.1.3 (`ExperimentGOT10k.report`, `rect_iou`): frame 0 dropped, predicted and
  ground-truth boxes clipped to the image (W, H) from `meta_info.ini`, continuous IoU `inter / (union + eps)`
  clipped to [0, 1], frames with `cover == 0` dropped, the IoUs of all repetitions pooled; AO, SR0.50, SR0.75
  and a 101-point success curve, pooled over frames (the toolkit's 'overall') or averaged over sequences.
* `trackingnet`: the TrackingNet devkit `metrics.py` (SilvioGiancola/TrackingNet-devkit 79783f2): every coordinate
  rounded half to even first, frame 0 := ground truth, inclusive-pixel IoU with the intersection sides rounded,
  centres `x + (w + 1) / 2`, 21 thresholds for all three curves (IoU `>=` 0..1, distance `<=` 0..50 px,
  normalised `<=` 0..0.5) and the scores are trapezoid areas (x = 0..1), not point read-outs. Missing rows are
  failures.
* `lasher`, `rgbt234`, `visevent`, `vot_longterm`: the multi-modal benchmarks' toolkits, see `multimodal.py`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lib.utils.cli import UserError

__all__ = [
    "Protocol", "PROTOCOLS", "protocol_names", "get_protocol", "default_protocol", "SeqErrors",
    "InvalidResultsError", "iou_inclusive", "center_error", "repair_rows", "calc_seq_err_robust", "batch_seq_errors",
    "lasot_toolkit_errors", "trackingnet_errors", "batch_curves", "SeqCurves", "seq_curves", "score_batch",
    "average_curves", "protocol_scores", "summary_scores", "SCORE_NAMES", "GOT10K_SCORE_NAMES", "got10k_iou",
    "got10k_seq_ious", "got10k_seq_stats", "got10k_scores", "NAN_GT_DATASETS", "STRICT_LENGTH_DATASETS",
    "VISIBILITY_DATASETS", "COMMUNITY_PROTOCOLS", "GENERIC_OPE_PROTOCOLS", "LONGTERM_SCORE_NAMES",
    "ProtocolMismatchError", "check_protocol", "check_box_per_frame",
]

# Tags whose ground truth marks absence with NaN rows (pytracking tolerates NaN only for 'uav'; the multi-modal
# benchmarks' own toolkits read NaN rows as unknown / absent: DepthTrack, VOT-RGBD and some VisEvent files have them).
NAN_GT_DATASETS = frozenset({"uav", "depthtrack", "vot_rgbd2022", "visevent", "lasher", "rgbt234"})
# Tags for which a result shorter than the ground truth is an error (elsewhere it is padded with zero boxes).
STRICT_LENGTH_DATASETS = frozenset({"lasot"})
# Tags whose visibility flags pytracking's (and STARK's, and the LaSOT toolkit's) readers pass to the analysis; the
# others (GOT-10k's cover labels, ...) are used by the got10k protocol only.
VISIBILITY_DATASETS = frozenset({"lasot", "lasot_extension_subset", "avist", "visevent"})
GOT10K_TAG = "got10k"
# Dataset tag -> the protocol its community reports (multimodal.py); `default_protocol` picks it.
COMMUNITY_PROTOCOLS = {"lasher": "lasher", "rgbt234": "rgbt234", "visevent": "visevent",
                       "depthtrack": "vot_longterm", "vot_rgbd2022": "vot_longterm"}
# Protocols that also score the box-per-frame multi-modal benchmarks (not the F-score ones: those need confidences).
GENERIC_OPE_PROTOCOLS = ("stark", "pytracking", "lasot_toolkit")

# torch.arange(0.0, 1.05, 0.05, dtype=torch.float64) as pytracking builds it (differs from k/20 in the last bit
# at 9 of the 21 points, which decides ties such as an IoU of exactly 0.15).
_TORCH_OVERLAP_THRESHOLDS = np.array([
    0.0, 0.05, 0.1, 0.15000000000000002, 0.2, 0.25, 0.30000000000000004, 0.35000000000000003, 0.4, 0.45, 0.5,
    0.55, 0.6000000000000001, 0.6500000000000001, 0.7000000000000001, 0.7500000000000001, 0.8,
    0.8500000000000001, 0.9, 0.9500000000000001, 1.0])
# MATLAB's `0:0.05:1`: the colon operator computes the first half as a + k*d, the second half as b - k*d and the
# midpoint as (a + b) / 2 (MathWorks' description of colon), so 0.65 is 0.6499999999999999 there.
_MATLAB_OVERLAP_THRESHOLDS = np.array([k * 0.05 for k in range(10)] + [0.5] + [1.0 - k * 0.05
                                                                               for k in range(9, -1, -1)])
_CENTER_51 = np.arange(51, dtype=np.float64)
_NORM_51 = np.arange(51, dtype=np.float64) / 100.0
SCORE_NAMES = ("AUC", "OP50", "OP75", "Precision", "Norm Precision")
GOT10K_SCORE_NAMES = ("AO", "SR0.50", "SR0.75")
LONGTERM_SCORE_NAMES = ("Pr", "Re", "F-score")


@dataclass(frozen=True, eq=False)
class Protocol:
    """One reference's thresholds and read-outs (its per-frame rules live in `score_batch`)."""
    name: str
    reference: str
    overlap_thresholds: np.ndarray
    center_thresholds: np.ndarray
    norm_center_thresholds: np.ndarray
    success_inclusive: bool = False   # success is IoU >= threshold (TrackingNet) instead of IoU > threshold
    score_names: tuple[str, ...] = SCORE_NAMES
    # (score name, `summary_scores` key) for protocols that name the usual read-outs their own way (PR, SR, ...)
    renamed: tuple[tuple[str, str], ...] = ()
    drop_zero_sequences: bool = False  # the LaSOT-derived MATLAB toolkits leave all-zero curves out of the mean


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("stark", "STARK / OSTrack / SeqTrack copy of pytracking's extract_results (GT w, h > 0)",
             _TORCH_OVERLAP_THRESHOLDS, _CENTER_51, _NORM_51),
    Protocol("pytracking", "pytracking extract_results (GT x, y, w, h > 0)",
             _TORCH_OVERLAP_THRESHOLDS, _CENTER_51, _NORM_51),
    Protocol("lasot_toolkit", "LaSOT MATLAB evaluation toolkit", _MATLAB_OVERLAP_THRESHOLDS, _CENTER_51, _NORM_51,
             drop_zero_sequences=True),
    Protocol("got10k", "got10k toolkit 0.1.3 ExperimentGOT10k (AO, SR)", np.linspace(0, 1, 101), np.zeros(0),
             np.zeros(0), score_names=GOT10K_SCORE_NAMES),
    Protocol("trackingnet", "TrackingNet devkit metrics.py (trapezoid areas)", np.linspace(0, 1, 21),
             np.linspace(0, 50, 21), np.linspace(0, 0.5, 21), success_inclusive=True),
    Protocol("lasher", "LasHeR MATLAB toolkit (PR at 20 px, NPR at 0.20, SR = success AUC)", _MATLAB_OVERLAP_THRESHOLDS,
             _CENTER_51, _NORM_51, score_names=("PR", "NPR", "SR"),
             renamed=(("PR", "Precision"), ("NPR", "Norm Precision"), ("SR", "AUC")), drop_zero_sequences=True),
    Protocol("rgbt234", "RGBT234 MPR/MSR toolkit (per frame the better of the visible and infrared ground truth)",
             _MATLAB_OVERLAP_THRESHOLDS, _CENTER_51, np.zeros(0), score_names=("MPR", "MSR"),
             renamed=(("MPR", "Precision"), ("MSR", "AUC"))),
    Protocol("visevent", "VisEvent MATLAB toolkit (LaSOT's, absent frames fail; PR at 20 px, SR = success AUC)",
             _MATLAB_OVERLAP_THRESHOLDS, _CENTER_51, np.zeros(0), score_names=("PR", "SR"),
             renamed=(("PR", "Precision"), ("SR", "AUC")), drop_zero_sequences=True),
    Protocol("vot_longterm", "VOT toolkit long-term analysis (DepthTrack, VOT-RGBD): tracking precision, recall and "
             "F-score over the tracker's confidence thresholds", np.zeros(0), np.zeros(0), np.zeros(0),
             score_names=LONGTERM_SCORE_NAMES),
)}


def protocol_names() -> list[str]:
    return list(PROTOCOLS)


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol '{name}'; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def default_protocol(dataset_tags: Sequence[str]) -> str:
    """`got10k` for GOT-10k sequences (what their benchmark reports), the community's protocol for a multi-modal
    benchmark (`COMMUNITY_PROTOCOLS`), `stark` (what the families' papers used) otherwise."""
    tags = set(dataset_tags)
    if tags and tags <= {GOT10K_TAG}:
        return "got10k"
    community = {COMMUNITY_PROTOCOLS.get(t) for t in tags}
    if len(community) == 1 and None not in community:
        return community.pop()
    return "stark"


class ProtocolMismatchError(UserError, ValueError):
    """A protocol that cannot score the given dataset (named by the --protocol / --dataset to change)."""


def check_protocol(protocol: str, dataset_tags: Sequence[str]) -> None:
    """Raise ProtocolMismatchError unless `protocol` can score sequences with these tags: a community protocol
    scores its own benchmarks only; a multi-modal benchmark takes its community protocol, and the box-per-frame
    ones (LasHeR, RGBT234, VisEvent) also the generic OPE protocols `GENERIC_OPE_PROTOCOLS`."""
    for tag in sorted(set(dataset_tags)):
        own = COMMUNITY_PROTOCOLS.get(tag)
        if protocol in COMMUNITY_PROTOCOLS.values() and own != protocol:
            served = sorted(t for t, p in COMMUNITY_PROTOCOLS.items() if p == protocol)
            raise ProtocolMismatchError(f"--protocol {protocol} scores {', '.join(served)} only, not '{tag}' "
                                        f"sequences; leave --protocol out to use the dataset's own")
        if own is not None and protocol != own and (own == "vot_longterm" or protocol not in GENERIC_OPE_PROTOCOLS):
            others = "" if own == "vot_longterm" else f" (or {', '.join(GENERIC_OPE_PROTOCOLS)})"
            raise ProtocolMismatchError(f"--protocol {protocol} cannot score '{tag}' sequences: use --protocol "
                                        f"{own}{others}, or leave --protocol out")


class InvalidResultsError(ValueError):
    """A result or ground-truth array that cannot be scored (NaN, inf, negative size, wrong length)."""


@dataclass(frozen=True)
class SeqErrors:
    """Per-frame errors of one sequence, or of several laid end to end (sequence i = frames bounds[i]:bounds[i+1])."""
    overlap: np.ndarray       # (N,) IoU; -1 on invalid frames
    center: np.ndarray        # (N,) centre distance in pixels
    center_norm: np.ndarray   # (N,) centre distance with both centres divided by the GT size
    valid: np.ndarray         # (N,) bool
    bounds: np.ndarray | None = None  # (S+1,) frame offsets; None: a single sequence


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


def repair_rows(pred: np.ndarray, repair: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Replace the rows marked `repair` at frames >= 1 by the previous (already repaired) row, vectorised.

    The references' sequential loops copy row i-1 into row i, so a run of repaired rows takes the last row before
    the run. Hence each row takes the last row at or before it that is not itself repaired. `keep` marks further
    rows never repaired (the first frame of each sequence when several are laid end to end, padding).
    """
    repair = repair.copy()
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


def _check_prediction(pred: np.ndarray, seq_name: str, allow_nan: bool = False) -> None:
    """Rejects inf always (a corrupt result file), NaN and negative sizes unless the reference repairs them."""
    bad = np.isinf(pred).any(axis=1)
    if not allow_nan:
        bad |= np.isnan(pred).any(axis=1) | (pred[:, 2:] < 0.0).any(axis=1)
    if bad.any():
        what = "inf" if allow_nan else "NaN, inf or a negative width/height"
        raise InvalidResultsError(f"{_where(seq_name)}prediction row {int(np.argmax(bad))} has {what} "
                                  f"({int(bad.sum())} such rows)")


def _check_shapes(pred: np.ndarray, gt: np.ndarray, seq_name: str, strict_length: bool) -> None:
    for what, arr in (("prediction", pred), ("ground truth", gt)):
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise InvalidResultsError(f"{_where(seq_name)}{what} must be an (N, 4) array, got shape {arr.shape}")
    if len(gt) == 0:
        raise InvalidResultsError(f"{_where(seq_name)}empty ground truth")
    if len(pred) < len(gt) and strict_length:
        raise InvalidResultsError(f"{_where(seq_name)}{len(pred)} predicted boxes for {len(gt)} ground-truth frames "
                                  f"(this protocol and dataset require one box per frame)")


def _frames_of(flags: list[bool], lengths: np.ndarray) -> np.ndarray:
    """Per-frame mask from one flag per sequence."""
    return np.repeat(np.asarray(flags, dtype=bool), lengths)


@dataclass
class _Batch:
    """Sequences laid end to end: predictions cut or padded to the ground-truth length."""
    pred: np.ndarray
    gt: np.ndarray
    lengths: np.ndarray
    bounds: np.ndarray
    padded: np.ndarray    # (N,) rows that are padding
    visible: np.ndarray   # (N,) bool (all True where a sequence has no flags)
    gt_nan: np.ndarray    # (N,) ground-truth row has NaN

    @property
    def first(self) -> np.ndarray:
        return self.bounds[:-1]


def _lay_out(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], datasets: Sequence[str],
             visibles: Sequence[np.ndarray | None], names: Sequence[str], *, strict: Sequence[bool],
             allow_nan_pred: bool, pad_value: float) -> _Batch:
    preds = [np.asarray(p, dtype=np.float64) for p in preds]
    gts = [np.asarray(g, dtype=np.float64) for g in gts]
    for pred, gt, name, strict_length in zip(preds, gts, names, strict):
        _check_shapes(pred, gt, name, strict_length)
    if not all(np.isfinite(p).all() and (p[:, 2:] >= 0.0).all() for p in preds):
        for pred, name in zip(preds, names):  # whole files, as pytracking checks them
            _check_prediction(pred, name, allow_nan_pred)
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
    pred = np.full_like(gt, pad_value)
    padded = np.zeros(len(gt), dtype=bool)
    visible = np.ones(len(gt), dtype=bool)
    for i, (p, flags) in enumerate(zip(preds, visibles)):
        n = min(len(p), lengths[i])
        pred[bounds[i]:bounds[i] + n] = p[:n]
        padded[bounds[i] + n:bounds[i + 1]] = True
        if flags is not None:
            flags = np.asarray(flags).astype(bool).ravel()
            if len(flags) != lengths[i]:
                raise InvalidResultsError(f"{_where(names[i])}{len(flags)} visibility flags for {lengths[i]} "
                                          f"ground-truth frames")
            visible[bounds[i]:bounds[i + 1]] = flags
    return _Batch(pred, gt, lengths, bounds, padded, visible, gt_nan)


def _raise_on_nan_overlap(overlap: np.ndarray, bounds: np.ndarray, names: Sequence[str]) -> None:
    if np.isnan(overlap).any():
        frame = int(np.argmax(np.isnan(overlap)))
        i = int(np.searchsorted(bounds, frame, side="right")) - 1
        raise InvalidResultsError(f"{_where(names[i])}NaN overlap at frame {frame - bounds[i]}")


def calc_seq_err_robust(pred_bb: np.ndarray, anno_bb: np.ndarray, dataset: str,
                        target_visible: np.ndarray | None = None, *, protocol: str = "stark",
                        seq_name: str = "") -> SeqErrors:
    """Per-frame overlap, centre error and normalised centre error of one sequence under the `pytracking` or
    `stark` protocol (module docstring). `dataset` is the sequence's tag ('lasot', 'uav', 'got10k', ...)."""
    return batch_seq_errors([pred_bb], [anno_bb], [dataset], [target_visible], protocol=protocol, names=[seq_name])


def batch_seq_errors(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], datasets: Sequence[str],
                     visibles: Sequence[np.ndarray | None], *, protocol: str = "stark",
                     names: Sequence[str] | None = None) -> SeqErrors:
    """`calc_seq_err_robust` for many sequences at once, laid end to end (a few dozen numpy calls in total, so a
    dataset costs about as much as one long sequence). Identical, frame by frame, to scoring them one by one."""
    if protocol not in ("pytracking", "stark"):
        raise ValueError(f"batch_seq_errors implements the pytracking and stark protocols, not '{protocol}'")
    names = list(names) if names is not None else [""] * len(gts)
    b = _lay_out(preds, gts, datasets, visibles, names, strict=[d in STRICT_LENGTH_DATASETS for d in datasets],
                 allow_nan_pred=False, pad_value=0.0)
    zero_size = (b.pred[:, 2] == 0.0) | (b.pred[:, 3] == 0.0)
    keep = b.padded.copy()
    keep[b.first] = True
    pred = repair_rows(b.pred, zero_size & ~b.gt_nan, keep)
    pred[b.first] = b.gt[b.first]
    gt = b.gt
    if protocol == "stark":
        valid = (gt[:, 2] > 0.0) & (gt[:, 3] > 0.0) & b.visible
    else:
        valid = (gt > 0.0).all(axis=1) & b.visible

    overlap = iou_inclusive(pred, gt)
    center, center_norm = _center_errors(pred, gt)
    invalid = ~valid
    overlap[invalid] = -1.0
    uav = _frames_of([d == "uav" for d in datasets], b.lengths)
    center[invalid] = np.where(uav[invalid], -1.0, np.inf)
    center_norm[invalid] = -1.0
    hidden = ~b.visible & _frames_of([d == "lasot" and v is not None for d, v in zip(datasets, visibles)], b.lengths)
    center[hidden] = np.inf
    center_norm[hidden] = np.inf
    _raise_on_nan_overlap(overlap, b.bounds, names)
    return SeqErrors(overlap, center, center_norm, valid, b.bounds)


def lasot_toolkit_errors(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], datasets: Sequence[str],
                         visibles: Sequence[np.ndarray | None], names: Sequence[str] | None = None) -> SeqErrors:
    """Per-frame errors as the LaSOT MATLAB toolkit's `calc_seq_err_robust.m` (module docstring); absent frames
    are kept with IoU -1 and centre errors +inf, which is what removing them from the numerator amounts to."""
    names = list(names) if names is not None else [""] * len(gts)
    b = _lay_out(preds, gts, datasets, visibles, names, strict=[True] * len(gts), allow_nan_pred=True,
                 pad_value=0.0)
    bad = np.isnan(b.pred).any(axis=1) | (b.pred[:, 2] <= 0.0) | (b.pred[:, 3] <= 0.0)
    keep = np.zeros(len(b.gt), dtype=bool)
    keep[b.first] = True
    pred = repair_rows(b.pred, bad & ~b.gt_nan, keep)
    pred[b.first] = b.gt[b.first]
    valid = (b.gt > 0.0).all(axis=1) & b.visible
    overlap = iou_inclusive(pred, b.gt)
    center, center_norm = _center_errors(pred, b.gt)
    overlap[~valid] = -1.0
    center[~valid] = -1.0
    center_norm[~valid] = -1.0
    center[~b.visible] = np.inf
    center_norm[~b.visible] = np.inf
    _raise_on_nan_overlap(overlap, b.bounds, names)
    return SeqErrors(overlap, center, center_norm, valid, b.bounds)


def trackingnet_errors(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray],
                       names: Sequence[str] | None = None) -> SeqErrors:
    """Per-frame errors as the TrackingNet devkit's `metrics.py` (module docstring). Missing rows (NaN in the
    devkit's data frame) and zero-area unions fail every curve: IoU -1, distances +inf."""
    names = list(names) if names is not None else [""] * len(gts)
    b = _lay_out(preds, gts, ["trackingnet"] * len(gts), [None] * len(gts), names, strict=[False] * len(gts),
                 allow_nan_pred=True, pad_value=np.nan)
    pred, gt = np.round(b.pred), np.round(b.gt)
    pred[b.first] = gt[b.first]
    (px, py, pw, ph), (gx, gy, gw, gh) = _columns(pred), _columns(gt)
    with np.errstate(invalid="ignore", divide="ignore"):
        iw = np.clip(np.round(np.minimum(gx + gw - 1.0, px + pw - 1.0) - np.maximum(gx, px) + 1), 0, None)
        ih = np.clip(np.round(np.minimum(gy + gh - 1.0, py + ph - 1.0) - np.maximum(gy, py) + 1), 0, None)
        inter = iw * ih
        overlap = inter / (gh * gw + ph * pw - inter)
        dx = (gx + (gw + 1.0) / 2.0) - (px + (pw + 1.0) / 2.0)
        dy = (gy + (gh + 1.0) / 2.0) - (py + (ph + 1.0) / 2.0)
        center = np.sqrt(dx * dx + dy * dy)
        center_norm = np.sqrt(dx / gw * dx / gw + dy / gh * dy / gh)
    overlap[np.isnan(overlap)] = -1.0
    center[np.isnan(center)] = np.inf
    center_norm[np.isnan(center_norm)] = np.inf
    return SeqErrors(overlap, center, center_norm, overlap >= 0.0, b.bounds)


@dataclass(frozen=True)
class SeqCurves:
    success: np.ndarray         # (K,) share of frames with IoU > threshold
    precision: np.ndarray       # (K,) share with centre error <= threshold
    norm_precision: np.ndarray  # (K,) share with normalised error <= threshold
    ao: float                   # mean IoU over valid frames (NaN when there is none)


def _counts(values: np.ndarray, thresholds: np.ndarray, seq_id: np.ndarray, n_seq: int, mode: str) -> np.ndarray:
    """(S, K) frame counts per sequence with value > threshold ('gt'), >= ('ge') or <= ('le').

    m = number of thresholds below (at or below for 'ge') the value: the value passes t_j for j < m ('gt', 'ge')
    or j >= m ('le'); so a histogram of m per sequence and one cumulative sum give every count.
    """
    k = len(thresholds)
    m = np.searchsorted(thresholds, values, side="right" if mode == "ge" else "left")
    hist = np.bincount(seq_id * (k + 1) + m, minlength=n_seq * (k + 1)).reshape(n_seq, k + 1)
    if mode in ("gt", "ge"):
        return hist[:, ::-1].cumsum(axis=1)[:, ::-1][:, 1:]
    return hist.cumsum(axis=1)[:, :k]


def batch_curves(errors: SeqErrors, protocol: str = "stark", *, exclude_invalid: bool = False) \
        -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-sequence success (S, K), precision (S, K'), normalised precision (S, K') and AO (S,) with the
    protocol's thresholds.

    The denominator is every ground-truth frame or, with `exclude_invalid` (pytracking's `exclude_invalid_frames`),
    only the valid ones (then their -1 centre errors still count as successes, as in pytracking).
    """
    p = get_protocol(protocol)
    lengths = np.diff(errors.bounds) if errors.bounds is not None else np.array([len(errors.overlap)])
    n_seq = len(lengths)
    seq_id = np.repeat(np.arange(n_seq), lengths)
    n_valid = np.bincount(seq_id, weights=errors.valid, minlength=n_seq)
    denominator = np.maximum(n_valid if exclude_invalid else lengths, 1.0)[:, None]
    success = _counts(errors.overlap, p.overlap_thresholds, seq_id, n_seq,
                      "ge" if p.success_inclusive else "gt") / denominator
    precision = _counts(errors.center, p.center_thresholds, seq_id, n_seq, "le") / denominator
    norm_precision = _counts(errors.center_norm, p.norm_center_thresholds, seq_id, n_seq, "le") / denominator
    overlap_sum = np.bincount(seq_id, weights=np.where(errors.valid, errors.overlap, 0.0), minlength=n_seq)
    with np.errstate(divide="ignore", invalid="ignore"):
        ao = np.where(n_valid > 0, overlap_sum / n_valid, np.nan)
    return success, precision, norm_precision, ao


def seq_curves(errors: SeqErrors, protocol: str = "stark", *, exclude_invalid: bool = False) -> SeqCurves:
    """Curves of a single sequence (see `batch_curves`)."""
    success, precision, norm_precision, ao = batch_curves(errors, protocol, exclude_invalid=exclude_invalid)
    return SeqCurves(success[0], precision[0], norm_precision[0], float(ao[0]))


def score_batch(protocol: str, preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], datasets: Sequence[str],
                visibles: Sequence[np.ndarray | None], image_sizes: Sequence[tuple[float, float] | None],
                names: Sequence[str], exclude_invalid: bool = False,
                aux_gts: Sequence[np.ndarray | None] | None = None) -> dict[str, np.ndarray]:
    """Per-sequence arrays of one run under `protocol`: success, precision, norm_precision (S, K), ao (S,) and
    got (S, 4) GOT-10k stats (NaN rows under the other protocols). `aux_gts`: the second modality's ground truth
    (RGBT234's infrared boxes), used by the `rgbt234` protocol only."""
    if exclude_invalid and protocol not in ("pytracking", "stark"):
        raise ValueError(f"exclude_invalid applies to the pytracking and stark protocols, not '{protocol}'")
    if protocol == "got10k":
        return _got10k_batch(preds, gts, visibles, image_sizes, names)
    if protocol == "vot_longterm":
        raise ValueError("the vot_longterm protocol scores a tracker's runs together (its confidence thresholds "
                         "come from every frame): use lib.test.analysis.extract.evaluate")
    # The LasHeR toolkit has its absence handling commented out; the others read flags for VISIBILITY_DATASETS.
    visibles = [v if d in VISIBILITY_DATASETS and protocol != "lasher" else None for v, d in zip(visibles, datasets)]
    if protocol in ("lasot_toolkit", "lasher", "visevent"):
        errors = lasot_toolkit_errors(preds, gts, datasets, visibles, names)
    elif protocol == "rgbt234":
        from lib.test.analysis.multimodal import rgbt234_errors  # multimodal builds on this module

        errors = rgbt234_errors(preds, gts, aux_gts if aux_gts is not None else [None] * len(gts), names)
    elif protocol == "trackingnet":
        errors = trackingnet_errors(preds, gts, names)
    else:
        errors = batch_seq_errors(preds, gts, datasets, visibles, protocol=protocol, names=names)
    success, precision, norm_precision, ao = batch_curves(errors, protocol, exclude_invalid=exclude_invalid)
    return {"success": success, "precision": precision, "norm_precision": norm_precision, "ao": ao,
            "got": np.full((len(gts), 4), np.nan)}


def _got10k_batch(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], visibles: Sequence[np.ndarray | None],
                  image_sizes: Sequence[tuple[float, float] | None], names: Sequence[str]) -> dict[str, np.ndarray]:
    thresholds = PROTOCOLS["got10k"].overlap_thresholds
    success = np.zeros((len(gts), len(thresholds)))
    got = np.zeros((len(gts), 4))
    for i, (pred, gt, visible, size, name) in enumerate(zip(preds, gts, visibles, image_sizes, names)):
        iou = got10k_seq_ious(pred, gt, visible, size, name)
        got[i] = _got10k_stats(iou)
        success[i] = (iou[:, None] > thresholds[None, :]).mean(axis=0) if iou.size else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ao = got[:, 1] / got[:, 0]
    empty = np.zeros((len(gts), 0))
    return {"success": success, "precision": empty, "norm_precision": empty, "ao": ao, "got": got}


def average_curves(protocol: str, curves: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
    """(T, S, K) per-sequence curves -> (T, K) curves: the mean over sequences; the LaSOT-derived toolkits
    (`Protocol.drop_zero_sequences`) leave out the sequences whose whole curve is zero (plot_draw_save.m);
    `frames` (T, S) weighs sequences by their frame count (the got10k toolkit's pooled 'overall' curve)."""
    if curves.shape[-1] == 0:  # a curve the protocol does not have (got10k: precision)
        return curves[:, 0]
    if frames is not None:
        return (curves * frames[..., None]).sum(axis=1) / np.maximum(frames.sum(axis=1), 1.0)[:, None]
    if get_protocol(protocol).drop_zero_sequences:
        keep = curves.sum(axis=2) > np.finfo(np.float64).eps
        return (curves * keep[..., None]).sum(axis=1) / np.maximum(keep.sum(axis=1), 1)[:, None]
    return curves.mean(axis=1)


def summary_scores(success: np.ndarray, precision: np.ndarray, norm_precision: np.ndarray) -> dict[str, float]:
    """Table scores in percent from (sequence-averaged) 21/51-point curves in [0, 1]: AUC = mean of the success
    curve, OP50/OP75 = success at 0.50/0.75, Precision = P(20 px), Norm Precision = N(0.20) (NaN for a curve the
    protocol does not draw)."""
    def at(curve: np.ndarray, i: int) -> float:
        return 100.0 * float(curve[i]) if len(curve) > i else float("nan")

    return {
        "AUC": 100.0 * float(np.mean(success)),
        "OP50": at(success, 10),
        "OP75": at(success, 15),
        "Precision": at(precision, 20),
        "Norm Precision": at(norm_precision, 20),
    }


def _trapezoid_area(curve: np.ndarray) -> float:
    x = np.linspace(0, 1, len(curve))
    return float(np.sum((curve[1:] + curve[:-1]) * np.diff(x)) / 2.0)


def protocol_scores(protocol: str, success: np.ndarray, precision: np.ndarray, norm_precision: np.ndarray,
                    got_stats: np.ndarray | None = None, frame_weighted: bool = True) -> dict[str, float]:
    """The protocol's table scores in percent from averaged curves (and, for got10k, the per-sequence stats)."""
    if protocol == "got10k":
        return got10k_scores(got_stats, frame_weighted)
    if protocol == "trackingnet":  # the devkit reports areas (np.trapz over x = linspace(0, 1, 21)) for all three
        return {"AUC": 100.0 * _trapezoid_area(success), "OP50": 100.0 * float(success[10]),
                "OP75": 100.0 * float(success[15]), "Precision": 100.0 * _trapezoid_area(precision),
                "Norm Precision": 100.0 * _trapezoid_area(norm_precision)}
    scores = summary_scores(success, precision, norm_precision)
    renamed = get_protocol(protocol).renamed
    return {name: scores[key] for name, key in renamed} if renamed else scores


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


def got10k_seq_ious(pred: np.ndarray, gt: np.ndarray, target_visible: np.ndarray | None = None,
                    bound: tuple[float, float] | None = None, seq_name: str = "") -> np.ndarray:
    """The IoUs the toolkit keeps for one repetition: frame 0 dropped, frames whose target is not visible (the
    toolkit's `cover == 0`) dropped, boxes clipped to the image `bound` (W, H)."""
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    check_box_per_frame(pred, gt, "the GOT-10k protocol", seq_name)
    keep = np.ones(len(gt), dtype=bool)
    keep[0] = False
    if target_visible is not None:
        keep &= np.asarray(target_visible).astype(bool).ravel()
    return got10k_iou(pred[keep], gt[keep], bound)


def check_box_per_frame(pred: np.ndarray, gt: np.ndarray, protocol: str, seq_name: str = "") -> None:
    """InvalidResultsError unless `pred` has one finite box per ground-truth frame (what `protocol` needs)."""
    if pred.shape != gt.shape:
        raise InvalidResultsError(f"{_where(seq_name)}{len(pred)} predicted boxes for {len(gt)} ground-truth "
                                  f"frames ({protocol} needs one box per frame)")
    if not np.isfinite(pred).all():
        raise InvalidResultsError(f"{_where(seq_name)}prediction row {int(np.argmax(~np.isfinite(pred).all(1)))} "
                                  f"has NaN or inf")


def _got10k_stats(iou: np.ndarray) -> np.ndarray:
    return np.array([iou.size, iou.sum(), (iou > 0.5).sum(), (iou > 0.75).sum()], dtype=np.float64)


def got10k_seq_stats(preds: list[np.ndarray], gt: np.ndarray, target_visible: np.ndarray | None = None,
                     bound: tuple[float, float] | None = None, seq_name: str = "") -> np.ndarray:
    """[frames, sum IoU, frames with IoU > 0.5, frames with IoU > 0.75] over all repetitions of one sequence
    (their IoUs pooled, as the toolkit concatenates them)."""
    return sum((_got10k_stats(got10k_seq_ious(p, gt, target_visible, bound, seq_name)) for p in preds),
               np.zeros(4))


def got10k_scores(stats: np.ndarray, frame_weighted: bool = True) -> dict[str, float]:
    """AO, SR0.50, SR0.75 in percent from per-sequence `got10k_seq_stats` rows (S, 4).

    `frame_weighted=True` pools all frames of all sequences, which is what the got10k toolkit 0.1.3 reports as
    'overall' (longer sequences weigh more); False averages the per-sequence AO/SR (each sequence weighs the same,
    the mean of the toolkit's 'seq_wise' numbers).
    """
    stats = np.asarray(stats, dtype=np.float64).reshape(-1, 4)
    if frame_weighted:
        total = stats.sum(axis=0)
        ratios = total[1:] / max(total[0], 1.0)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.nanmean(stats[:, 1:] / stats[:, :1], axis=0)
    return {"AO": 100.0 * float(ratios[0]), "SR0.50": 100.0 * float(ratios[1]), "SR0.75": 100.0 * float(ratios[2])}
