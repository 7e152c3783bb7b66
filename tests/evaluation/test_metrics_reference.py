"""The vectorised pytracking/stark protocols against a straightforward per-frame reference written from the rules
in eval_datasets.md §2.1 and pytracking's extract_results.py (frame loops, plain Python floats), on random
sequences with every special case."""
import math
import zlib

import numpy as np
import pytest

from lib.test.analysis.metrics import batch_curves, batch_seq_errors, calc_seq_err_robust, seq_curves

INF = float("inf")


def reference_errors(pred, gt, dataset, visible, protocol):
    pred = [list(map(float, r)) for r in pred]
    gt = [list(map(float, r)) for r in gt]
    n = len(gt)
    if len(pred) > n:
        pred = pred[:n]
    for i in range(1, len(pred)):  # sequential repair, as pytracking's loop
        if (pred[i][2] == 0.0 or pred[i][3] == 0.0) and not any(math.isnan(v) for v in gt[i]):
            pred[i] = list(pred[i - 1])
    while len(pred) < n:
        pred.append([0.0, 0.0, 0.0, 0.0])
    pred[0] = list(gt[0])
    overlap, center, norm, valid_all = [], [], [], []
    for i in range(n):
        x, y, w, h = pred[i]
        gx, gy, gw, gh = gt[i]
        valid = (gw > 0 and gh > 0) if protocol == "stark" else all(v > 0 for v in gt[i])
        if visible is not None:
            valid = valid and bool(visible[i])
        valid_all.append(valid)
        if not valid:
            overlap.append(-1.0)
            center.append(-1.0 if dataset == "uav" else INF)
            norm.append(-1.0)
        else:
            iw = max(0.0, min(x + w - 1.0, gx + gw - 1.0) - max(x, gx) + 1.0)
            ih = max(0.0, min(y + h - 1.0, gy + gh - 1.0) - max(y, gy) + 1.0)
            inter = iw * ih
            overlap.append(inter / (w * h + gw * gh - inter))
            pcx, pcy = x + 0.5 * (w - 1.0), y + 0.5 * (h - 1.0)
            gcx, gcy = gx + 0.5 * (gw - 1.0), gy + 0.5 * (gh - 1.0)
            center.append(math.sqrt((pcx - gcx) ** 2 + (pcy - gcy) ** 2))
            norm.append(math.sqrt((pcx / gw - gcx / gw) ** 2 + (pcy / gh - gcy / gh) ** 2))
        if dataset == "lasot" and visible is not None and not visible[i]:
            center[-1] = INF
            norm[-1] = INF
    return overlap, center, norm, valid_all


def reference_curves(overlap, center, norm, valid, exclude_invalid):
    denominator = max(sum(valid) if exclude_invalid else len(valid), 1)
    # torch.arange(0, 1.05, 0.05) in float64, as a literal
    thresholds = [0.0, 0.05, 0.1, 0.15000000000000002, 0.2, 0.25, 0.30000000000000004, 0.35000000000000003,
                  0.4, 0.45, 0.5, 0.55, 0.6000000000000001, 0.6500000000000001, 0.7000000000000001,
                  0.7500000000000001, 0.8, 0.8500000000000001, 0.9, 0.9500000000000001, 1.0]
    success = [sum(1 for o in overlap if o > t) / denominator for t in thresholds]
    precision = [sum(1 for c in center if c <= t) / denominator for t in range(51)]
    norm_precision = [sum(1 for c in norm if c <= t / 100) / denominator for t in range(51)]
    valid_overlaps = [o for o, v in zip(overlap, valid) if v]
    ao = sum(valid_overlaps) / len(valid_overlaps) if valid_overlaps else float("nan")
    return success, precision, norm_precision, ao


def random_sequence(rng, dataset):
    n = int(rng.integers(2, 60))
    gt = np.column_stack([rng.integers(0, 200, (n, 2)), rng.integers(1, 60, (n, 2))]).astype(float)
    gt[rng.random(n) < 0.05, :2] = 0            # border-touching boxes (validity rule)
    gt[rng.random(n) < 0.05, 2] = 0             # degenerate GT
    if dataset == "uav":
        gt[rng.random(n) < 0.15] = np.nan
        gt[0] = [5, 5, 10, 10]
    pred = gt + rng.normal(0, 8, gt.shape)
    pred = np.nan_to_num(pred, nan=3.0)
    pred[:, 2:] = np.abs(pred[:, 2:])
    zero = rng.random(n) < 0.2
    pred[zero, 2 + rng.integers(0, 2)] = 0.0    # zero-size predictions, some in runs
    pred[rng.random(n) < 0.1] = 0.0
    visible = (rng.random(n) > 0.15) if dataset.startswith("lasot") else None
    if dataset != "lasot":
        length = int(rng.integers(1, n + 5))
        pred = pred[:length] if length <= n else np.concatenate([pred, rng.uniform(1, 50, (length - n, 4))])
    return pred, gt, visible


@pytest.mark.parametrize("dataset", ["lasot", "lasot_extension_subset", "uav", "got10k", "otb"])
@pytest.mark.parametrize("protocol", ["stark", "pytracking"])
def test_vectorised_matches_reference(dataset, protocol):
    rng = np.random.default_rng(zlib.crc32(f"{dataset}{protocol}".encode()))
    for trial in range(12):
        pred, gt, visible = random_sequence(rng, dataset)
        exclude = trial % 3 == 0
        err = calc_seq_err_robust(pred, gt, dataset, visible, protocol=protocol)
        ref = reference_errors(pred, gt, dataset, visible, protocol)
        for got, want in zip((err.overlap, err.center, err.center_norm, err.valid), ref):
            np.testing.assert_allclose(got, np.array(want, dtype=float), rtol=0, atol=1e-12)
        curves = seq_curves(err, protocol, exclude_invalid=exclude)
        ref_c = reference_curves(*ref, exclude)
        np.testing.assert_allclose(curves.success, ref_c[0], atol=1e-12)
        np.testing.assert_allclose(curves.precision, ref_c[1], atol=1e-12)
        np.testing.assert_allclose(curves.norm_precision, ref_c[2], atol=1e-12)
        np.testing.assert_allclose(curves.ao, ref_c[3], atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("protocol", ["stark", "pytracking"])
def test_batch_equals_one_by_one(protocol):
    rng = np.random.default_rng(11)
    tags = ["lasot", "uav", "got10k", "lasot_extension_subset", "otb", "uav", "lasot"]
    items = [(*random_sequence(rng, tag), tag) for tag in tags]
    preds, gts, visibles, datasets = (list(x) for x in zip(*items))
    batch = batch_seq_errors(preds, gts, datasets, visibles, protocol=protocol)
    curves = batch_curves(batch, protocol, exclude_invalid=True)
    for i, (pred, gt, visible, tag) in enumerate(items):
        one = calc_seq_err_robust(pred, gt, tag, visible, protocol=protocol)
        frames = slice(batch.bounds[i], batch.bounds[i + 1])
        for name in ("overlap", "center", "center_norm", "valid"):
            np.testing.assert_array_equal(getattr(batch, name)[frames], getattr(one, name), err_msg=f"{tag} {name}")
        single = seq_curves(one, protocol, exclude_invalid=True)
        for k, want in enumerate((single.success, single.precision, single.norm_precision)):
            np.testing.assert_array_equal(curves[k][i], want)
        np.testing.assert_array_equal(curves[3][i], single.ao)
