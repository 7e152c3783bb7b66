"""Gaussian centre heat maps on the search crop's feature grid (the CenterNet-style target of centre heads).

Matches the official generator: the normalised box is scaled to the feat_sz x feat_sz grid, its centre rounded
(half to even), the radius is CornerNet's `gaussian_radius` in its widely copied form (each root divided by 2
instead of 2a; it is what the official checkpoints were trained with), clamped at 0 and truncated to an int, and
a (2r+1) x (2r+1) Gaussian with sigma = (2r+1)/6 and peak 1 is drawn at the centre. Arithmetic is float32 like
the official tensors. A centre outside the grid draws only the part of the Gaussian that falls on it (the
official code fails or draws nothing there; search crops keep the centre inside in practice).
"""
from __future__ import annotations

import functools

import numpy as np

__all__ = ["gaussian_radius", "gaussian_heatmap"]

_F32 = np.float32


def gaussian_radius(width: float, height: float, min_overlap: float = 0.7) -> float:
    """The smallest of CornerNet's three radii (as float32), for a box of `width` x `height` grid cells."""
    w, h, m = _F32(width), _F32(height), _F32(min_overlap)
    one, two, four = _F32(1), _F32(2), _F32(4)
    radii = []
    for a, b, c in ((one, h + w, w * h * (one - m) / (one + m)),
                    (four, two * (h + w), (one - m) * w * h),
                    (four * m, -two * m * (h + w), (m - one) * w * h)):
        radii.append((b + np.sqrt(b * b - four * a * c)) / two)
    return float(min(radii))


@functools.lru_cache(maxsize=256)
def _kernel(radius: int) -> np.ndarray:
    """(2r+1)^2 float32 Gaussian with sigma (2r+1)/6 and peak 1; read-only (shared by the cache)."""
    sigma = (2 * radius + 1) / 6
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    squared = offsets[:, None] ** 2 + offsets[None, :] ** 2
    kernel = np.exp(-squared / (2 * sigma * sigma))
    kernel[kernel < np.finfo(_F32).eps * kernel.max()] = 0
    kernel = kernel.astype(_F32)
    kernel.setflags(write=False)
    return kernel


def gaussian_heatmap(box_xywh_norm, feat_sz: int, min_overlap: float = 0.7) -> np.ndarray:
    """(feat_sz, feat_sz) float32 map with a peak of 1 at the box centre's grid cell."""
    x, y, w, h = (_F32(v) * _F32(feat_sz) for v in box_xywh_norm)
    cx, cy = int(np.rint(x + w / _F32(2))), int(np.rint(y + h / _F32(2)))
    radius = gaussian_radius(w, h, min_overlap)
    radius = int(radius) if radius > 0 else 0  # NaN (degenerate box) -> 0
    kernel = _kernel(radius)
    heatmap = np.zeros((feat_sz, feat_sz), _F32)
    x0, x1 = max(cx - radius, 0), min(cx + radius + 1, feat_sz)
    y0, y1 = max(cy - radius, 0), min(cy + radius + 1, feat_sz)
    if x1 > x0 and y1 > y0:
        heatmap[y0:y1, x0:x1] = kernel[y0 - cy + radius:y1 - cy + radius, x0 - cx + radius:x1 - cx + radius]
    return heatmap
