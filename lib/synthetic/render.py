"""Pixels of a synthetic scene: textures made once per sequence, then per-frame compositing (OpenCV, vectorised).

Images are produced in OpenCV's BGR channel order so they can be encoded without a conversion.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lib.synthetic.natural import natural_image, natural_pieces, random_palette
from lib.synthetic.scene import Scene

__all__ = ["SceneTextures", "make_textures", "render_frame", "render_image", "object_texture", "background_texture"]

_OBJECT_TEXTURE_SIZE = 48


@dataclass
class SceneTextures:
    background: np.ndarray       # canvas larger than the frame by the scene's camera margin on each side
    targets: list[np.ndarray]
    distractors: list[np.ndarray]
    occluder: np.ndarray


def _noise_field(rng: np.random.Generator, h: int, w: int, cells: int, channels: int = 3) -> np.ndarray:
    """Smooth random field in [0, 1]: random values on a coarse grid, cubic upsampling."""
    gh, gw = max(2, h // cells + 2), max(2, w // cells + 2)
    grid = rng.random((gh, gw, channels)).astype(np.float32)
    field = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(field.reshape(h, w, channels), 0, 1)


def _palette(rng: np.random.Generator, k: int, saturated: bool) -> np.ndarray:
    colors = rng.uniform(0, 255, size=(k, 3))
    if saturated:
        # push one channel up and one down so objects stand out from the softer backgrounds
        for c in colors:
            hi, lo = rng.choice(3, size=2, replace=False)
            c[hi] = rng.uniform(180, 255)
            c[lo] = rng.uniform(0, 70)
    return colors.astype(np.float32)


def background_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Cluttered background: multi-scale colour noise plus random rectangles and ellipses."""
    cols = _palette(rng, 3, saturated=False)
    t = sum(wt * _noise_field(rng, h, w, cells, 1) for wt, cells in ((0.5, 48), (0.3, 16), (0.2, 5)))
    t2 = _noise_field(rng, h, w, 24, 1)
    img = cols[0] * (1 - t) + cols[1] * t
    img = img * (1 - 0.4 * t2) + cols[2] * 0.4 * t2
    img = np.clip(img, 0, 255).astype(np.uint8)
    side = min(h, w)
    for _ in range(int(rng.integers(8, 20))):
        color = tuple(float(v) for v in rng.uniform(0, 255, 3))
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        a, b = (int(v) for v in rng.uniform(0.02, 0.12, 2) * side)
        if rng.random() < 0.5:
            cv2.rectangle(img, (cx - a, cy - b), (cx + a, cy + b), color, -1)
        else:
            cv2.ellipse(img, (cx, cy), (max(a, 1), max(b, 1)), float(rng.uniform(0, 180)), 0, 360, color, -1)
    return cv2.GaussianBlur(img, (3, 3), 0)


def object_texture(rng: np.random.Generator, size: int = _OBJECT_TEXTURE_SIZE) -> np.ndarray:
    """A distinctive target texture: saturated colours in a random pattern (stripes, checks, rings or blobs)."""
    cols = _palette(rng, 3, saturated=True)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    kind = int(rng.integers(4))
    if kind == 0:
        angle, freq = rng.uniform(0, np.pi), rng.uniform(2, 5)
        m = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)))
    elif kind == 1:
        k = int(rng.integers(2, 5))
        m = ((np.floor(xx * k) + np.floor(yy * k)) % 2).astype(np.float32)
    elif kind == 2:
        cx, cy = rng.uniform(0.3, 0.7, 2)
        m = 0.5 + 0.5 * np.cos(2 * np.pi * rng.uniform(2, 4) * np.hypot(xx - cx, yy - cy))
    else:
        m = _noise_field(rng, size, size, 8, 1)[..., 0]
        m = (m > 0.5).astype(np.float32)
    m = m[..., None]
    img = cols[0] * m + cols[1] * (1 - m)
    border = max(2, size // 12)
    img[:border], img[-border:], img[:, :border], img[:, -border:] = cols[2], cols[2], cols[2], cols[2]
    img += rng.normal(0, 8, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def lookalike(rng: np.random.Generator, texture: np.ndarray) -> np.ndarray:
    """The target's texture, slightly recoloured and possibly mirrored: a distractor."""
    out = texture.astype(np.float32) + rng.normal(0, 28, 3).astype(np.float32)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.clip(out, 0, 255).astype(np.uint8)


def make_textures(rng: np.random.Generator, scene: Scene, natural: bool = False) -> SceneTextures:
    """Textures of one sequence; `natural` draws target, look-alikes and background from natural-statistics
    images (lib/synthetic/natural.py) instead of saturated patterns over soft clutter."""
    m = scene.canvas_margin
    if natural:
        size = 2 * _OBJECT_TEXTURE_SIZE
        palette = random_palette(rng)
        shared = palette if rng.random() < 0.5 else None  # half the targets are made of the background's colours
        targets, distractors = natural_pieces(rng, scene.targets.shape[0], size, scene.distractors.shape[0], shared)
        background = natural_image(rng, scene.height + 2 * m + 1, scene.width + 2 * m + 1, palette)
        occluder = natural_image(rng, size, size)
        return SceneTextures(background, targets, distractors, occluder)
    background = background_texture(rng, scene.height + 2 * m + 1, scene.width + 2 * m + 1)
    targets = [object_texture(rng) for _ in range(scene.targets.shape[0])]
    distractors = [lookalike(rng, targets[0]) for _ in range(scene.distractors.shape[0])]
    occluder = background_texture(rng, 64, 64)
    return SceneTextures(background, targets, distractors, occluder)


def paste(frame: np.ndarray, texture: np.ndarray, box: np.ndarray) -> None:
    """Draw `texture` stretched onto the float box (x, y, w, h), with sub-pixel placement and soft edges."""
    x, y, w, h = (float(v) for v in box)
    if not np.isfinite([x, y, w, h]).all() or w <= 0 or h <= 0:
        return
    fh, fw = frame.shape[:2]
    x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
    x1, y1 = min(int(np.ceil(x + w)), fw), min(int(np.ceil(y + h)), fh)
    if x1 <= x0 or y1 <= y0:
        return
    th, tw = texture.shape[:2]
    # inverse map: ROI pixel centre (x0 + j + 0.5) -> texture pixel index
    sx, sy = tw / w, th / h
    inv = np.array([[sx, 0, (x0 + 0.5 - x) * sx - 0.5], [0, sy, (y0 + 0.5 - y) * sy - 0.5]], np.float32)
    size = (x1 - x0, y1 - y0)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    patch = cv2.warpAffine(texture, inv, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(np.full((th, tw), 255, np.uint8), inv, size, flags=flags,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    roi = frame[y0:y1, x0:x1]
    a = alpha.astype(np.float32)[..., None] * (1 / 255)
    roi[:] = (roi * (1 - a) + patch * a + 0.5).astype(np.uint8)


def render_frame(scene: Scene, textures: SceneTextures, t: int) -> np.ndarray:
    """Frame `t` (BGR uint8): background crop, distractors, targets (last first), occluder, illumination."""
    ox, oy = (int(v) for v in scene.camera[t])
    frame = textures.background[oy:oy + scene.height, ox:ox + scene.width].copy()
    for tex, boxes in zip(textures.distractors, scene.distractors):
        paste(frame, tex, boxes[t])
    for k in range(scene.targets.shape[0] - 1, -1, -1):
        paste(frame, textures.targets[k], scene.targets[k, t])
    paste(frame, textures.occluder, scene.occluder[t])
    gain = float(scene.gain[t])
    if abs(gain - 1) > 1e-3:
        frame = cv2.convertScaleAbs(frame, alpha=gain)
    return frame


def render_image(rng: np.random.Generator, width: int, height: int, boxes: np.ndarray) -> np.ndarray:
    """A still image (BGR) with one textured object per box, drawn in order over a cluttered background."""
    frame = background_texture(rng, height, width)
    for box in boxes:
        paste(frame, object_texture(rng), box)
    return frame
