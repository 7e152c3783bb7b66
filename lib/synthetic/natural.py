"""Generated images with the statistics of natural ones, for training trackers that must work on real video.

A tracker trained on saturated objects over soft backgrounds learns to find saturated things. Here target,
look-alikes and background come from one distribution, so only matching the template separates them:

  * a "dead leaves" image: many overlapping shapes whose sizes follow a power law (occlusion edges at every scale,
    the near-1/f^2 power spectrum of photographs), painted back to front;
  * every shape carries its own colour and a share of a 1/f noise texture, and the whole image gets a smooth
    illumination field and colour cast;
  * targets are pieces cut from another such image; look-alikes are overlapping pieces of the same image (similar
    but not equal appearance), as in real scenes with repeated parts.
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["pink_noise", "random_palette", "natural_image", "natural_pieces"]


def pink_noise(rng: np.random.Generator, h: int, w: int, exponent: float = 1.0) -> np.ndarray:
    """Zero-mean, unit-std noise whose amplitude spectrum falls as 1 / f^exponent."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spectrum = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f ** exponent
    spectrum[0, 0] = 0
    field = np.fft.irfft2(spectrum, s=(h, w)).astype(np.float32)
    return field / (field.std() + 1e-6)


def _shape(image: np.ndarray, rng: np.random.Generator, radius: float, color: tuple[float, ...]) -> None:
    h, w = image.shape[:2]
    cx, cy = int(rng.integers(-int(radius), w + int(radius))), int(rng.integers(-int(radius), h + int(radius)))
    a, b = max(1, int(radius)), max(1, int(radius * rng.uniform(0.3, 1.0)))
    kind = rng.random()
    if kind < 0.45:
        cv2.ellipse(image, (cx, cy), (a, b), float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
    elif kind < 0.8:
        angle = rng.uniform(0, np.pi)
        c, s = np.cos(angle), np.sin(angle)
        corners = np.array([[-a, -b], [a, -b], [a, b], [-a, b]]) @ np.array([[c, s], [-s, c]])
        cv2.fillPoly(image, [np.round(corners + [cx, cy]).astype(np.int32)], color, cv2.LINE_AA)
    else:
        k = int(rng.integers(3, 7))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radii = radius * rng.uniform(0.4, 1.0, k)
        points = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(image, [np.round(points).astype(np.int32)], color, cv2.LINE_AA)


def random_palette(rng: np.random.Generator) -> np.ndarray:
    """A scene's few dominant colours (real photos have a handful of materials, not uniform random colour)."""
    k = int(rng.integers(3, 7))
    hsv = np.stack([rng.uniform(0, 180, k), 255 * rng.beta(1.5, 3.0, k), rng.uniform(50, 245, k)], axis=1)
    return cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2BGR)[0].astype(np.float64)


def natural_image(rng: np.random.Generator, h: int, w: int, palette: np.ndarray | None = None) -> np.ndarray:
    """A BGR uint8 image: textured dead leaves under a smooth illumination field, slightly blurred."""
    side = min(h, w)
    palette = random_palette(rng) if palette is None else palette
    image = np.empty((h, w, 3), np.float32)
    image[:] = palette[0]
    count = int(rng.integers(120, 260) * (h * w) / (320 * 240)) + 8
    # radii log-uniform between 1 % and 45 % of the side (p(r) ~ 1/r): the large leaves cover the canvas and
    # every scale down to a few pixels is present; largest painted first so the small ones stay visible
    radii = np.sort(np.exp(rng.uniform(np.log(0.01 * side), np.log(0.45 * side), count)))[::-1]
    for radius in radii:
        color = palette[rng.integers(len(palette))] + rng.normal(0, 30, 3)
        _shape(image, rng, float(radius), tuple(float(v) for v in np.clip(color, 0, 255)))
    texture = pink_noise(rng, h, w, exponent=rng.uniform(0.8, 1.4))[..., None]
    image *= 1 + rng.uniform(0.05, 0.2) * texture
    light = pink_noise(rng, h, w, exponent=2.0)[..., None]
    image *= np.exp(rng.uniform(0.1, 0.3) * light)
    sigma = rng.uniform(0.0, 0.8)
    if sigma > 0.4:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    return np.clip(image, 0, 255).astype(np.uint8)


def natural_pieces(rng: np.random.Generator, count: int, size: int, lookalikes: int,
                   palette: np.ndarray | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """`count` target textures cut from one natural image, and `lookalikes` overlapping cuts near the first."""
    source = natural_image(rng, 3 * size, 3 * size, palette)
    span = 2 * size

    def cut(x: int, y: int) -> np.ndarray:
        x, y = int(np.clip(x, 0, span)), int(np.clip(y, 0, span))
        return source[y:y + size, x:x + size].copy()

    starts = [(int(rng.integers(0, span + 1)), int(rng.integers(0, span + 1))) for _ in range(count)]
    targets = [cut(x, y) for x, y in starts]
    x0, y0 = starts[0]
    near = [cut(x0 + int(rng.uniform(-0.6, 0.6) * size), y0 + int(rng.uniform(-0.6, 0.6) * size))
            for _ in range(lookalikes)]
    return targets, near
