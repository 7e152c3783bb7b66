"""Synthetic inputs for the conformance suite: a small in-memory video dataset (BaseVideoDataset API) and
frame sequences, with any number of channels (RGB first, then auxiliary ones)."""
from __future__ import annotations

import numpy as np
import torch

HEIGHT, WIDTH, LENGTH = 96, 128, 24


def target_box(frame: int) -> list[float]:
    """A 24 x 20 target drifting right and down by 2 and 1 pixels per frame."""
    return [30.0 + 2 * frame, 30.0 + frame, 24.0, 20.0]


def render_frame(frame: int, channels: int, seed: int = 0) -> np.ndarray:
    """Textured background with a bright textured target at `target_box(frame)`; auxiliary channels carry a
    gradient with the target raised, as a depth map would."""
    rng = np.random.default_rng([seed, frame])
    image = rng.integers(0, 90, (HEIGHT, WIDTH, channels), dtype=np.uint8)
    x, y, w, h = (int(v) for v in target_box(frame))
    image[y:y + h, x:x + w] = rng.integers(170, 256, (h, w, channels), dtype=np.uint8)
    if channels > 3:
        image[:, :, 3:] //= 2
        image[:, :, 3:] += (np.arange(WIDTH, dtype=np.uint8) // 2)[None, :, None]
    return image


class SyntheticVideos:
    """`num_sequences` videos of LENGTH frames, every frame annotated and visible."""

    def __init__(self, channels: int, num_sequences: int = 2):
        self.channels, self.num_sequences = channels, num_sequences

    @classmethod
    def builder(cls, channels: int):
        """A training-catalogue builder (source, only_present) -> reader; the frames are made, not read."""
        return lambda source, only_present: cls(channels)

    def get_name(self) -> str:
        return "conformance_synthetic"

    def is_video_sequence(self) -> bool:
        return True

    def get_num_sequences(self) -> int:
        return self.num_sequences

    def get_sequence_info(self, seq_id: int) -> dict[str, torch.Tensor]:
        boxes = torch.tensor([target_box(f) for f in range(LENGTH)])
        visible = torch.ones(LENGTH, dtype=torch.bool)
        return {"bbox": boxes, "valid": visible, "visible": visible}

    def get_frames(self, seq_id: int, frame_ids: list[int], anno: dict | None = None):
        anno = anno if anno is not None else self.get_sequence_info(seq_id)
        frames = [render_frame(f, self.channels, seed=seq_id) for f in frame_ids]
        return frames, {"bbox": [anno["bbox"][f] for f in frame_ids]}, {"object_class_name": None}
