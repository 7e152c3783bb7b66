"""Object tracks of one synthetic video and the per-frame ground truth they imply (numpy only, no pixels).

A scene holds, per frame, the boxes of the target(s), of look-alike distractors and of an opaque occluder, a
camera offset into the background canvas and an illumination gain. Everything is a pure function of the random
generator, so a finished sequence can be re-derived (for its ground truth) without rendering it again.

Difficulty built in (the quickstart tracker must beat "hold the first box" and an OpenCV tracker):
  * fast, turning motion (about 1-3 % of the image side per frame) with bounces at the borders;
  * smooth scale (x0.6-1.7) and aspect-ratio changes;
  * 1-3 distractors with the target's texture slightly recoloured, one of them following the target closely;
  * a full-occlusion span: an opaque block slides onto the target, covers it, then slides off;
  * an out-of-view span: the target leaves the image through one border and comes back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

__all__ = ["Scene", "FrameTruth", "simulate", "frame_truth"]

# Shares of the shorter image side.
_SIZE_RANGE = (0.12, 0.22)
_SPEED_RANGE = (0.012, 0.03)
_MIN_FRAMES_FOR_EVENTS = 30


@dataclass
class Scene:
    """Per-frame boxes (x, y, w, h, float, image coordinates; pixel j covers [j, j+1))."""
    width: int
    height: int
    targets: np.ndarray            # (T, N, 4); target 0 is the main one, drawn on top of the others
    distractors: np.ndarray        # (D, N, 4), drawn behind the targets
    occluder: np.ndarray           # (N, 4), NaN rows where there is no occluder; drawn on top of everything
    camera: np.ndarray             # (N, 2) integer offsets of the crop into the background canvas
    gain: np.ndarray               # (N,) illumination gain
    canvas_margin: int
    events: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return self.targets.shape[1]


@dataclass
class FrameTruth:
    """Ground truth of one target over a sequence."""
    boxes: np.ndarray              # (N, 4) box clipped to the image (degenerate where out of view)
    visible_fraction: np.ndarray   # share of the target's area that is in the image and not covered
    out_of_view: np.ndarray        # bool: less than one pixel (in width or height) of the target inside the image
    full_occlusion: np.ndarray     # bool: inside the image but completely covered
    cut_by_image: np.ndarray       # bool: partly outside the image
    cover: np.ndarray              # int 0..8, GOT-10k visible-ratio level

    @property
    def absent(self) -> np.ndarray:
        return self.out_of_view | self.full_occlusion

    @property
    def visible(self) -> np.ndarray:
        return ~self.absent


def smooth_noise(rng: np.random.Generator, n: int, width: float) -> np.ndarray:
    """Zero-mean, unit-std noise smoothed by a Gaussian of `width` frames."""
    pad = int(3 * width) + 1
    raw = rng.standard_normal(n + 2 * pad)
    k = np.arange(-pad, pad + 1)
    kernel = np.exp(-0.5 * (k / width) ** 2)
    out = np.convolve(raw, kernel / kernel.sum(), mode="same")[pad:pad + n]
    std = out.std()
    return out / std if std > 0 else out


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _sizes(rng: np.random.Generator, n: int, side: float, base: Optional[float] = None) -> np.ndarray:
    """(N, 2) widths and heights with smooth scale and aspect-ratio changes."""
    s0 = base if base is not None else rng.uniform(*_SIZE_RANGE) * side
    aspect0 = np.exp(rng.uniform(-0.6, 0.6))
    scale = np.clip(np.exp(0.3 * smooth_noise(rng, n, max(n / 6, 4))), 0.6, 1.7)
    aspect = aspect0 * np.exp(0.18 * smooth_noise(rng, n, max(n / 5, 4)))
    return np.stack([s0 * scale * np.sqrt(aspect), s0 * scale / np.sqrt(aspect)], axis=1)


def _path(rng: np.random.Generator, n: int, sizes: np.ndarray, width: int, height: int,
          start: Optional[np.ndarray] = None) -> np.ndarray:
    """(N, 2) centres of a fast, turning motion that bounces off the image borders."""
    side = min(width, height)
    speed = rng.uniform(*_SPEED_RANGE) * side * np.clip(1 + 0.5 * smooth_noise(rng, n, 6), 0.2, 2.5)
    turn = 0.12 * smooth_noise(rng, n, 8)
    angle = rng.uniform(0, 2 * np.pi)
    pos = np.array(start, dtype=np.float64) if start is not None else \
        np.array([rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height])
    centres = np.empty((n, 2))
    for t in range(n):
        half = sizes[t] / 2
        lo, hi = half, np.array([width, height]) - half
        centres[t] = pos
        step = speed[t] * np.array([np.cos(angle), np.sin(angle)])
        nxt = pos + step
        if nxt[0] < lo[0] or nxt[0] > hi[0]:
            angle = np.pi - angle
        if nxt[1] < lo[1] or nxt[1] > hi[1]:
            angle = -angle
        angle += turn[t]
        pos = np.clip(pos + speed[t] * np.array([np.cos(angle), np.sin(angle)]), np.minimum(lo, hi),
                      np.maximum(lo, hi))
    return centres


def _event_window(rng: np.random.Generator, n: int, share: tuple[float, float], ramp: int,
                  taken: list[tuple[int, int]]) -> Optional[tuple[int, int]]:
    """A span [start, end) of `share` of the frames plus ramps, after the first 15 % and clear of `taken`."""
    length = max(3, int(rng.uniform(*share) * n))
    lo, hi = int(0.15 * n) + ramp, n - length - ramp - 1
    for _ in range(20):
        if hi <= lo:
            return None
        start = int(rng.integers(lo, hi))
        window = (start - ramp, start + length + ramp)
        if all(window[1] <= a or window[0] >= b for a, b in taken):
            return start, start + length
    return None


def _ramp_weights(n: int, span: tuple[int, int], ramp: int) -> np.ndarray:
    """0 outside the span, 1 inside, smooth ramps of `ramp` frames on both sides."""
    t = np.arange(n, dtype=np.float64)
    rise = _smoothstep((t - (span[0] - ramp)) / ramp)
    fall = _smoothstep(((span[1] - 1 + ramp) - t) / ramp)
    return np.minimum(rise, fall)


def _leave_view(rng: np.random.Generator, centres: np.ndarray, sizes: np.ndarray, span: tuple[int, int],
                ramp: int, width: int, height: int) -> np.ndarray:
    """Push the target out through one border during `span` (fully outside there)."""
    side = int(rng.integers(4))
    out = centres.copy()
    margin = 0.6 * sizes + 2
    if side == 0:
        out[:, 0] = -margin[:, 0]
    elif side == 1:
        out[:, 0] = width + margin[:, 0]
    elif side == 2:
        out[:, 1] = -margin[:, 1]
    else:
        out[:, 1] = height + margin[:, 1]
    w = _ramp_weights(len(centres), span, ramp)[:, None]
    return (1 - w) * centres + w * out


def _occluder(rng: np.random.Generator, boxes: np.ndarray, span: tuple[int, int], ramp: int) -> np.ndarray:
    """An opaque block that slides onto the target, covers it fully during `span`, then slides off."""
    n = len(boxes)
    occ = np.full((n, 4), np.nan)
    lo, hi = max(0, span[0] - ramp), min(n, span[1] + ramp)
    size = 1.3 * boxes[lo:hi, 2:].max(axis=0) + 4
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    dirs = rng.normal(size=(2, 2))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    for t in range(lo, hi):
        away = 0.0
        direction = dirs[0]
        if t < span[0]:
            away, direction = (span[0] - t) / ramp, dirs[0]
        elif t >= span[1]:
            away, direction = (t - span[1] + 1) / ramp, dirs[1]
        reach = (size + boxes[t, 2:]) / 2 + 2
        centre = centres[t] + away * 1.5 * reach * direction
        occ[t] = [*(centre - size / 2), *size]
    return occ


def simulate(rng: np.random.Generator, num_frames: int, width: int, height: int, num_targets: int = 1,
             out_of_view: bool = True, occlusion: bool = True) -> Scene:
    """Draw a scene; the same generator state gives the same scene."""
    n, side = num_frames, min(width, height)
    ramp = max(3, n // 30)
    taken: list[tuple[int, int]] = []
    events: dict = {}
    targets, base_paths = [], []
    for k in range(num_targets):
        sizes = _sizes(rng, n, side)
        centres = _path(rng, n, sizes, width, height)
        base_paths.append((centres, sizes))
        if k == 0 and out_of_view and n >= _MIN_FRAMES_FOR_EVENTS and rng.random() < 0.6:
            span = _event_window(rng, n, (0.08, 0.15), ramp, taken)
            if span is not None:
                taken.append((span[0] - ramp, span[1] + ramp))
                events["out_of_view"] = span
                centres = _leave_view(rng, centres, sizes, span, ramp, width, height)
        targets.append(np.concatenate([centres - sizes / 2, sizes], axis=1))
    occ = np.full((n, 4), np.nan)
    if occlusion and n >= _MIN_FRAMES_FOR_EVENTS and rng.random() < 0.7:
        span = _event_window(rng, n, (0.05, 0.12), ramp, taken)
        if span is not None:
            events["occlusion"] = span
            occ = _occluder(rng, targets[0], span, ramp)
    distractors = _distractors(rng, n, width, height, *base_paths[0])
    margin = int(0.15 * side)
    camera = np.stack([margin * (1 + 0.9 * np.tanh(smooth_noise(rng, n, max(n / 4, 4)))) for _ in range(2)], 1)
    gain = np.clip(1 + 0.12 * smooth_noise(rng, n, max(n / 8, 4)), 0.75, 1.25)
    return Scene(width, height, np.stack(targets), distractors, occ, np.round(camera).astype(np.int64), gain,
                 margin, events)


def _distractors(rng: np.random.Generator, n: int, width: int, height: int, target_centres: np.ndarray,
                 target_sizes: np.ndarray) -> np.ndarray:
    """1-3 look-alikes: the first follows the target at 1.2-3 box sizes, the others move on their own."""
    count = int(rng.integers(1, 4))
    boxes = []
    for k in range(count):
        sizes = target_sizes.mean(axis=0) * rng.uniform(0.8, 1.2) * np.exp(0.15 * smooth_noise(rng, n, 10))[:, None]
        if k == 0:
            radius = target_sizes.max(axis=1) * (1.2 + 0.9 * (1 + np.tanh(smooth_noise(rng, n, 12))))
            phase = rng.uniform(0, 2 * np.pi) + np.cumsum(0.05 * smooth_noise(rng, n, 10) + 0.03)
            centres = target_centres + radius[:, None] * np.stack([np.cos(phase), np.sin(phase)], 1)
        else:
            start = _away_from(rng, target_centres[0], target_sizes[0], width, height)
            centres = _path(rng, n, sizes, width, height, start=start)
        boxes.append(np.concatenate([centres - sizes / 2, sizes], axis=1))
    return np.stack(boxes)


def _away_from(rng: np.random.Generator, centre: np.ndarray, size: np.ndarray, width: int,
               height: int) -> np.ndarray:
    """A start point at least 1.5 box sizes from `centre` (so the first frame is unambiguous)."""
    for _ in range(50):
        p = np.array([rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height])
        if np.all(np.abs(p - centre) > 1.5 * size) or np.linalg.norm(p - centre) > 1.5 * size.max():
            return p
    return np.array([width, height]) - centre


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame area of the intersection of two (N, 4) xywh box arrays (NaN boxes give 0)."""
    x0 = np.maximum(a[:, 0], b[:, 0])
    y0 = np.maximum(a[:, 1], b[:, 1])
    x1 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y1 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    area = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return np.nan_to_num(area, nan=0.0)


def _intersect_boxes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x0 = np.maximum(a[:, 0], b[:, 0])
    y0 = np.maximum(a[:, 1], b[:, 1])
    x1 = np.maximum(np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]), x0)
    y1 = np.maximum(np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]), y0)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)


def _covered_area(box: np.ndarray, covers: list[np.ndarray]) -> np.ndarray:
    """Area of `box` covered by the union of `covers` (inclusion-exclusion; a handful of covers at most)."""
    total = np.zeros(len(box))
    m = len(covers)
    for mask in range(1, 1 << m):
        part = box
        members = [covers[i] for i in range(m) if mask >> i & 1]
        for c in members:
            part = _intersect_boxes(part, np.nan_to_num(c, nan=-1e9))
        sign = 1.0 if len(members) % 2 else -1.0
        total += sign * part[:, 2] * part[:, 3]
    return total


def cover_level(visible_fraction: np.ndarray) -> np.ndarray:
    """GOT-10k cover level: 0 = nothing visible, 8 = fully visible, 1..7 = visible share in sevenths (rounded up)."""
    v = np.asarray(visible_fraction)
    level = np.clip(np.ceil(v * 7 - 1e-9), 1, 7).astype(np.int64)
    level[v <= 1e-9] = 0
    level[v >= 1 - 1e-9] = 8
    return level


def frame_truth(scene: Scene, target: int = 0) -> FrameTruth:
    """Ground truth of one target: clipped box, visibility and the datasets' flags."""
    box = scene.targets[target]
    image = np.tile([0.0, 0.0, scene.width, scene.height], (len(box), 1))
    clipped = _intersect_boxes(box, image)
    area = box[:, 2] * box[:, 3]
    in_area = clipped[:, 2] * clipped[:, 3]
    covers = [scene.occluder] + [scene.targets[k] for k in range(target)]
    # less than one pixel inside the image counts as out of view: annotators do not box a sub-pixel sliver
    oov = (clipped[:, 2] < 1) | (clipped[:, 3] < 1)
    visible = np.where(oov, 0.0, np.clip((in_area - _covered_area(clipped, covers)) / area, 0.0, 1.0))
    full = ~oov & (visible <= 1e-9)
    cut = ~oov & (in_area < area * (1 - 1e-9))
    return FrameTruth(clipped, visible, oov, full, cut, cover_level(visible))
