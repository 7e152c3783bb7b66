"""Auxiliary modalities of a synthetic scene, rendered from the same object tracks as its RGB frames.

* depth: 16-bit millimetres; a far background plane with a floor gradient, distractors at their own distances,
  the target nearer than the background (a smoothly varying distance), the occluder nearer still; sensor noise
  proportional to the distance and holes (zero depth: dropouts in blobs and scattered pixels), as in Kinect /
  RealSense maps.
* thermal: an 8-bit grey image (three equal planes, as LasHeR/RGBT234 store it): a cool, smooth background, lukewarm
  distractors (look-alikes in RGB, not in heat), a warm target with a hotter core, a cool occluder.
* event: the polarity image of the brightness change from the previous RGB frame, on a grey background: white
  where the log intensity rose, black where it fell (the first frame has no events).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lib.synthetic.render import paste
from lib.synthetic.scene import Scene, smooth_noise

__all__ = ["AuxPlan", "plan_aux", "render_depth", "render_thermal", "render_event", "AUX_KINDS"]

AUX_KINDS = ("depth", "thermal", "event")
_EVENT_THRESHOLD = 0.12   # log-intensity change that fires an event
_EVENT_GREY = 128


@dataclass
class AuxPlan:
    """Per-sequence draws of the auxiliary rendering (everything but per-frame noise)."""
    background_mm: float
    floor_gradient: float
    target_mm: np.ndarray          # (T, N) distance of each target per frame
    distractor_mm: np.ndarray      # (D,)
    heat_background: np.ndarray    # (H + 2m + 1, W + 2m + 1) uint8 canvas, cropped by the camera offset
    target_heat: list[np.ndarray]  # textures (uint8, 3 equal planes) of the targets
    distractor_heat: list[np.ndarray]
    occluder_heat: np.ndarray


def _heat_texture(rng: np.random.Generator, level: float, core: float, size: int = 32) -> np.ndarray:
    """A blob of heat: `level` at the border rising to `level + core` in the middle."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1) - 0.5
    centre = rng.uniform(-0.1, 0.1, 2)
    r2 = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2
    heat = level + core * np.exp(-r2 / 0.08) + rng.normal(0, 3, (size, size))
    return cv2.merge([np.clip(heat, 0, 255).astype(np.uint8)] * 3)


def plan_aux(rng: np.random.Generator, scene: Scene) -> AuxPlan:
    n = scene.num_frames
    m = scene.canvas_margin
    num_targets, num_distractors = scene.targets.shape[0], scene.distractors.shape[0]
    background_mm = float(rng.uniform(3500, 6000))
    target_mm = np.stack([rng.uniform(1200, 2500) * np.exp(0.15 * smooth_noise(rng, n, max(n / 5, 4)))
                          for _ in range(num_targets)])
    coarse = rng.uniform(40, 95, (max(2, scene.height // 40 + 2), max(2, scene.width // 40 + 2))).astype(np.float32)
    heat_background = cv2.resize(coarse, (scene.width + 2 * m + 1, scene.height + 2 * m + 1),
                                 interpolation=cv2.INTER_CUBIC)
    return AuxPlan(background_mm, float(rng.uniform(-0.35, 0.0)), target_mm,
                   rng.uniform(1500, 0.9 * background_mm, num_distractors),
                   np.clip(heat_background, 0, 255).astype(np.uint8),
                   [_heat_texture(rng, rng.uniform(170, 200), rng.uniform(30, 55)) for _ in range(num_targets)],
                   [_heat_texture(rng, rng.uniform(100, 135), rng.uniform(0, 15)) for _ in range(num_distractors)],
                   _heat_texture(rng, rng.uniform(55, 75), 0))


def _fill(image: np.ndarray, box: np.ndarray, value: float) -> None:
    """Set the pixels whose centres lie in the box (NaN or empty boxes draw nothing)."""
    if not np.isfinite(box).all() or box[2] <= 0 or box[3] <= 0:
        return
    h, w = image.shape[:2]
    x0, y0 = int(np.clip(np.round(box[0]), 0, w)), int(np.clip(np.round(box[1]), 0, h))
    x1, y1 = int(np.clip(np.round(box[0] + box[2]), 0, w)), int(np.clip(np.round(box[1] + box[3]), 0, h))
    image[y0:y1, x0:x1] = value


def render_depth(scene: Scene, plan: AuxPlan, t: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) uint16 depth in millimetres of frame `t`; `rng` draws this frame's noise and holes."""
    h, w = scene.height, scene.width
    rows = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    depth = np.repeat(plan.background_mm * (1 + plan.floor_gradient * rows), w, axis=1)
    for d, boxes in enumerate(scene.distractors):
        _fill(depth, boxes[t], plan.distractor_mm[d])
    for k in range(scene.targets.shape[0] - 1, -1, -1):
        _fill(depth, scene.targets[k, t], plan.target_mm[k, t])
    _fill(depth, scene.occluder[t], 0.6 * plan.target_mm[0, t])
    depth *= 1 + 0.01 * rng.standard_normal((h, w)).astype(np.float32)
    holes = (rng.random((h, w)) < 0.005).astype(np.uint8)
    for _ in range(int(rng.integers(0, 4))):
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        axes = (int(rng.integers(2, max(3, w // 12))), int(rng.integers(2, max(3, h // 12))))
        cv2.ellipse(holes, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    depth[holes > 0] = 0
    return np.clip(depth, 0, 65535).astype(np.uint16)


def render_thermal(scene: Scene, plan: AuxPlan, t: int, rng: np.random.Generator,
                   shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """(H, W, 3) uint8 thermal frame `t`; `shift` moves everything (a thermal camera slightly off the RGB one)."""
    ox, oy = (int(v) for v in scene.camera[t])
    frame = cv2.merge([plan.heat_background[oy:oy + scene.height, ox:ox + scene.width]] * 3)
    offset = np.array([shift[0], shift[1], 0.0, 0.0])
    for texture, boxes in zip(plan.distractor_heat, scene.distractors):
        paste(frame, texture, boxes[t] + offset)
    for k in range(scene.targets.shape[0] - 1, -1, -1):
        paste(frame, plan.target_heat[k], scene.targets[k, t] + offset)
    paste(frame, plan.occluder_heat, scene.occluder[t] + offset)
    noisy = cv2.GaussianBlur(frame, (3, 3), 0).astype(np.float32) + rng.normal(0, 2.5, frame.shape[:2])[..., None]
    return np.clip(noisy, 0, 255).astype(np.uint8)


def render_event(previous_bgr: np.ndarray | None, current_bgr: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 polarity image of the change from `previous_bgr` (None: the first frame, no events)."""
    out = np.full(current_bgr.shape, _EVENT_GREY, np.uint8)
    if previous_bgr is None:
        return out
    log_now = np.log1p(cv2.cvtColor(current_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32))
    log_before = np.log1p(cv2.cvtColor(previous_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32))
    change = log_now - log_before
    out[change > _EVENT_THRESHOLD] = 255
    out[change < -_EVENT_THRESHOLD] = 0
    return out
