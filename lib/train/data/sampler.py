"""Draw training samples (template and search frames of one target) from a mix of datasets.

Semantics follow the official TrackingSampler: a dataset is picked by ratio, a sequence uniformly among those
with more than 2 * (templates + searches) visible frames and at least 20 frames (image datasets: any, used as a
one-frame sequence), frame ids by `frame_sample_mode` (below), frames loaded and processed; a sample that
processing rejects is drawn again. Frame ids are drawn with replacement; ranges are [min, max).

Modes:
- causal: base template in [Nt-1, len-Ns); extra templates in [base-gap, base); searches in
  [base+1, base+gap); gap = max_gap + g, g growing by 5 per failure.
- interval: base anywhere; extra templates and searches within [base-gap, base+gap), any order.
- trident / trident_pro: first template and search anywhere (visible); one dynamic template per entry of
  max_gap, before the search if the first template is, else after it; trident_pro allows it to be invisible.
- stark: as trident, the dynamic template only needs an annotated ('valid') box.
- order: Nt + Ns visible frames within [base-gap, base+gap), sorted forward or backward in time (p = 0.5);
  the first Nt are templates.
With `train_cls`, half the samples (pos_prob) are positives; negatives use a frame of the same video where the
target is invisible (box: the centre W/8 x H/8 box), or else a frame from a random sequence of a random dataset.
With `extra_object_epochs` (MSTGT's mixed sampling), on the epochs it selects each sample also carries an extra
object, 'search_extra' (ExtraObject): one visible frame per search frame of another sequence of the same dataset,
of the target's class when one is found in 7 draws (as the MSTGT release), else any other sequence. Processing
pastes it into the search crops (lib/train/data/paste.py). Its draws come from a generator of their own, so the
rest of the sample is the one drawn without it.

Differences from the official sampler:
- Reproducible: all randomness of sample `index` in epoch `epoch` comes from a generator seeded with
  (seed, epoch, index), so workers and ranks draw independent samples and a resumed run draws the same ones.
  An index may be an int (uses `set_epoch`'s epoch) or an (epoch, index) pair, which is what the loader's index
  sampler yields, so persistent workers see epoch changes.
- Errors are not swallowed: a frame that fails to load raises SampleError naming the dataset, sequence and
  frame ids. Only "no valid sample" (too few frames, processing rejection) retries, with a warning after
  `warn_after` attempts and an error after `max_attempts`.
- Frames shared by templates and searches are loaded once; image datasets are read with frame id 0.
"""
from __future__ import annotations

import bisect
import itertools
import random
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

__all__ = ["TrackingSampler", "SampleError", "FRAME_SAMPLE_MODES", "sample_ids", "EpochSchedule", "ExtraObject"]

TRIDENT_MODES = ("trident", "trident_pro", "stark")
FRAME_SAMPLE_MODES = ("causal", "interval", "order") + TRIDENT_MODES
MIN_SEQUENCE_LENGTH = 20
GAP_STEP = 5
SAME_CLASS_DRAWS = 7  # the MSTGT release: a same-class draw and 6 redraws (while it is the own one), then any


@dataclass(frozen=True)
class EpochSchedule:
    """Epochs (1-based) after `after` that are multiples of `every` (MSTGT's imix_epoch / imix_interval)."""

    after: int
    every: int

    def __post_init__(self) -> None:
        if self.after < 0 or self.every < 1:
            raise ValueError(f"EpochSchedule: need after >= 0 and every >= 1, got after={self.after}, "
                             f"every={self.every}")

    def __call__(self, epoch: int) -> bool:
        return epoch > self.after and epoch % self.every == 0


@dataclass
class ExtraObject:
    """A second object for one sample: a frame per search frame, its (x, y, w, h) box in each, and the generator
    that drew it (processing draws the paste geometry from it too)."""

    frames: list[np.ndarray]
    boxes: list[tuple[float, ...]]
    rng: random.Random


class SampleError(RuntimeError):
    """A sample could not be built: unreadable data, or no valid sample after many attempts."""


def sample_ids(mask: np.ndarray, rng: random.Random, num_ids: int = 1, min_id: int | None = None,
               max_id: int | None = None) -> list[int] | None:
    """`num_ids` frame ids drawn with replacement among ids in [min_id, max_id) where `mask` is True (the range
    clamped to the sequence); [] for num_ids 0; None when there is no candidate."""
    if num_ids == 0:
        return []
    lo = 0 if min_id is None or min_id < 0 else min_id
    hi = len(mask) if max_id is None or max_id > len(mask) else max_id
    if hi <= lo:
        return None
    candidates = np.flatnonzero(mask[lo:hi])
    if candidates.size == 0:
        return None
    picks = [candidates[rng.randrange(candidates.size)] for _ in range(num_ids)]
    return [int(i) + lo for i in picks]


def _as_bool(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values).astype(bool, copy=False).reshape(-1)


def _box(value) -> tuple[float, ...]:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        value = value.tolist()
    box = tuple(float(v) for v in value)
    if len(box) != 4:
        raise ValueError(f"expected an (x, y, w, h) box, got {value!r}")
    return box


class TrackingSampler(torch.utils.data.Dataset):
    """Map-style dataset of `samples_per_epoch` random samples (global count; the loader splits it over ranks).

    datasets: readers with the BaseVideoDataset API (get_name, is_video_sequence, get_num_sequences,
        get_sequence_info(seq_id) -> {'bbox', 'valid', 'visible', ...}, get_frames(seq_id, ids, info)).
    p_datasets: sampling ratios (normalised), or None for proportional to the number of sequences.
    max_gap: int for causal / interval / order, a list of gaps (one dynamic template each) for trident modes.
    processing: callable(data, rng) -> dict with 'valid', or None to return the raw frames.
    extra_object_epochs: epoch -> whether samples carry an extra object (see the module docstring); validation
        loaders draw at epoch 0, which an EpochSchedule never selects.
    """

    def __init__(self, datasets: Sequence, p_datasets: Sequence[float] | None, samples_per_epoch: int,
                 max_gap: int | Sequence[int], num_search_frames: int, num_template_frames: int = 1,
                 processing: Callable | None = None, frame_sample_mode: str = "causal", train_cls: bool = False,
                 pos_prob: float = 0.5, seed: int = 0, warn_after: int = 100, max_attempts: int = 10000,
                 max_sequence_draws: int = 1000, extra_object_epochs: Callable[[int], bool] | None = None):
        if not datasets:
            raise ValueError("TrackingSampler: no datasets given")
        if frame_sample_mode not in FRAME_SAMPLE_MODES:
            raise ValueError(f"TrackingSampler: unknown frame_sample_mode {frame_sample_mode!r}; "
                             f"valid modes: {', '.join(FRAME_SAMPLE_MODES)}")
        self.datasets = list(datasets)
        self.p_datasets = self._normalise_ratios(p_datasets)
        self._cumulative_p = list(itertools.accumulate(self.p_datasets.tolist()))
        self.samples_per_epoch = int(samples_per_epoch)
        self.frame_sample_mode = frame_sample_mode
        self.max_gap = self._check_gap(max_gap)
        self.num_search_frames = int(num_search_frames)
        self.num_template_frames = int(num_template_frames)
        self._check_frame_counts()
        if train_cls and frame_sample_mode not in TRIDENT_MODES:
            raise ValueError(f"TrackingSampler: train_cls needs a frame_sample_mode among {list(TRIDENT_MODES)}, "
                             f"got {frame_sample_mode!r}")
        if train_cls and extra_object_epochs is not None:
            raise ValueError("TrackingSampler: extra objects are drawn for tracking samples, not with train_cls")
        self.extra_object_epochs = extra_object_epochs
        self.processing = processing
        self.train_cls = train_cls
        self.pos_prob = pos_prob
        self.seed = int(seed)
        self.warn_after = warn_after
        self.max_attempts = max_attempts
        self.max_sequence_draws = max_sequence_draws
        self.epoch = 0
        self._frame_ids = {"causal": self._ids_causal, "interval": self._ids_interval, "order": self._ids_order,
                           "trident": self._ids_trident, "trident_pro": self._ids_trident,
                           "stark": self._ids_trident}[frame_sample_mode]

    # ------------------------------------------------------------------ set-up checks
    def _normalise_ratios(self, p_datasets: Sequence[float] | None) -> np.ndarray:
        if p_datasets is None:
            p_datasets = [d.get_num_sequences() for d in self.datasets]
        p = np.asarray(p_datasets, np.float64)
        if p.shape != (len(self.datasets),) or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"TrackingSampler: need one non-negative ratio per dataset ({len(self.datasets)}), "
                             f"not all zero; got {list(p_datasets)}")
        return p / p.sum()

    def _check_gap(self, max_gap: int | Sequence[int]) -> int | list[int]:
        gaps = [max_gap] if isinstance(max_gap, int) else [int(g) for g in max_gap]
        if self.frame_sample_mode in TRIDENT_MODES:
            if not gaps:
                raise ValueError(f"TrackingSampler: mode {self.frame_sample_mode!r} needs at least one max_gap")
            return gaps
        if len(gaps) != 1:
            raise ValueError(f"TrackingSampler: mode {self.frame_sample_mode!r} takes one max_gap, got {max_gap}")
        return gaps[0]

    def _check_frame_counts(self) -> None:
        if self.num_search_frames < 1 or self.num_template_frames < 1:
            raise ValueError("TrackingSampler: need at least one template and one search frame, got "
                             f"{self.num_template_frames} and {self.num_search_frames}")
        if self.frame_sample_mode in TRIDENT_MODES:
            expected = 1 + len(self.max_gap)
            if self.num_search_frames != 1 or self.num_template_frames != expected:
                raise ValueError(f"TrackingSampler: mode {self.frame_sample_mode!r} with max_gap {self.max_gap} "
                                 f"draws {expected} templates and 1 search frame; got num_template_frames="
                                 f"{self.num_template_frames}, num_search_frames={self.num_search_frames}")

    # ------------------------------------------------------------------ dataset protocol
    def __len__(self) -> int:
        return self.samples_per_epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def rng(self, epoch: int, index: int) -> random.Random:
        """The generator of sample `index` in `epoch` (Python's Mersenne Twister, seeded through SHA-512)."""
        return random.Random(f"{self.seed}/{int(epoch)}/{int(index)}")

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        rng = self.rng(epoch, index)
        extra_rng = None
        if self.extra_object_epochs is not None and self.extra_object_epochs(epoch):
            extra_rng = random.Random(f"{self.seed}/{int(epoch)}/{int(index)}/extra")
        last_reason = ""
        for attempt in range(1, self.max_attempts + 1):
            data, reason = self._draw_cls(rng) if self.train_cls else self._draw(rng, extra_rng)
            if data is not None and data["valid"]:
                return data
            last_reason = reason
            if attempt == self.warn_after:
                warnings.warn(f"TrackingSampler: {attempt} attempts without a valid sample for epoch {epoch} "
                              f"index {index}; last rejection: {last_reason}", RuntimeWarning, stacklevel=2)
        raise SampleError(f"TrackingSampler: no valid sample in {self.max_attempts} attempts (epoch {epoch}, "
                          f"index {index}); last rejection: {last_reason}")

    # ------------------------------------------------------------------ drawing
    def _pick_dataset(self, rng: random.Random):
        cumulative = self._cumulative_p
        return self.datasets[min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]),
                                 len(self.datasets) - 1)]

    def _usable(self, dataset, seq_id: int) -> tuple[np.ndarray | None, dict] | None:
        """(visibility, None for image datasets; info) of a sequence long and visible enough to sample, else None."""
        info = dataset.get_sequence_info(seq_id)
        if not dataset.is_video_sequence():
            return None, info
        visible = _as_bool(info["visible"])
        min_visible = 2 * (self.num_search_frames + self.num_template_frames)
        if len(visible) >= MIN_SEQUENCE_LENGTH and visible.sum() > min_visible:
            return visible, info
        return None

    def _sample_sequence(self, dataset, rng: random.Random) -> tuple[int, np.ndarray | None, dict]:
        """A sequence id, its visibility (None for image datasets) and its info dict."""
        num_sequences = dataset.get_num_sequences()
        if num_sequences < 1:
            raise SampleError(f"dataset {dataset.get_name()}: has no sequences")
        for _ in range(self.max_sequence_draws):
            seq_id = rng.randrange(num_sequences)
            usable = self._usable(dataset, seq_id)
            if usable is not None:
                return seq_id, *usable
        min_visible = 2 * (self.num_search_frames + self.num_template_frames)
        raise SampleError(f"dataset {dataset.get_name()}: no sequence with at least {MIN_SEQUENCE_LENGTH} frames "
                          f"and more than {min_visible} visible ones in {self.max_sequence_draws} draws")

    def _draw(self, rng: random.Random, extra_rng: random.Random | None = None) -> tuple[dict | None, str]:
        dataset = self._pick_dataset(rng)
        seq_id, visible, info = self._sample_sequence(dataset, rng)
        ids = self._ids(visible, info, rng)
        if ids is None:
            return None, f"dataset {dataset.get_name()} sequence {seq_id}: no frame ids for the mode"
        data = self._pair(dataset, seq_id, info, *ids)
        if extra_rng is not None:
            data["search_extra"] = self._extra_object(dataset, seq_id, data["test_class"], extra_rng)
        return self._process(data, rng, dataset, seq_id, ids[0] + ids[1])

    def _extra_sequence(self, dataset, seq_id: int, object_class: str | None,
                        rng: random.Random) -> tuple[int, np.ndarray | None, dict]:
        """Another usable sequence of `dataset`: of class `object_class` if one comes up in SAME_CLASS_DRAWS draws,
        else any; the sample's own sequence only when the dataset has no other."""
        # Readers without class information have no seq_per_class.
        same_class = [s for s in getattr(dataset, "seq_per_class", {}).get(object_class, ()) if s != seq_id]
        for _ in range(SAME_CLASS_DRAWS if same_class else 0):
            candidate = same_class[rng.randrange(len(same_class))]
            usable = self._usable(dataset, candidate)
            if usable is not None:
                return candidate, *usable
        for _ in range(self.max_sequence_draws):
            candidate, visible, info = self._sample_sequence(dataset, rng)
            if candidate != seq_id or dataset.get_num_sequences() == 1:
                return candidate, visible, info
        raise SampleError(f"dataset {dataset.get_name()}: no usable sequence other than {seq_id} in "
                          f"{self.max_sequence_draws} draws")

    def _extra_object(self, dataset, seq_id: int, object_class: str | None, rng: random.Random) -> ExtraObject:
        """One visible frame (with its box) of another sequence per search frame, drawn from `rng` only."""
        extra_id, visible, info = self._extra_sequence(dataset, seq_id, object_class, rng)
        ids = [0] * self.num_search_frames if visible is None else sample_ids(visible, rng, self.num_search_frames)
        frames, boxes, _, _ = self._load(dataset, extra_id, ids, info)
        return ExtraObject(frames, boxes, rng)

    def _draw_cls(self, rng: random.Random) -> tuple[dict | None, str]:
        dataset = self._pick_dataset(rng)
        seq_id, visible, info = self._sample_sequence(dataset, rng)
        ids = self._ids(visible, info, rng)
        if ids is None:
            return None, f"dataset {dataset.get_name()} sequence {seq_id}: no frame ids for the mode"
        positive = rng.random() < self.pos_prob
        if positive:
            data = self._pair(dataset, seq_id, info, *ids)
        else:
            data = self._negative(dataset, seq_id, visible, info, ids[0], rng)
            if data is None:
                return None, "negative search: no usable frame in the drawn sequence"
        data, reason = self._process(data, rng, dataset, seq_id, ids[0] + ids[1])
        if data is not None and data["valid"]:
            data["label"] = torch.tensor([1.0 if positive else 0.0])
        return data, reason

    def _ids(self, visible: np.ndarray | None, info: dict, rng: random.Random):
        """(template ids, search ids) by the mode; image datasets repeat their only frame."""
        if visible is None:
            return [0] * self.num_template_frames, [0] * self.num_search_frames
        return self._frame_ids(visible, info, rng)

    def _pair(self, dataset, seq_id: int, info: dict, template_ids: list[int], search_ids: list[int]) -> dict:
        frames, boxes, masks, meta = self._load(dataset, seq_id, template_ids + search_ids, info)
        nt = len(template_ids)
        return {"template_images": frames[:nt], "template_anno": boxes[:nt], "template_masks": masks[:nt],
                "search_images": frames[nt:], "search_anno": boxes[nt:], "search_masks": masks[nt:],
                "dataset": dataset.get_name(), "test_class": meta.get("object_class_name")}

    def _negative(self, dataset, seq_id: int, visible: np.ndarray | None, info: dict, template_ids: list[int],
                  rng: random.Random) -> dict | None:
        """Templates of the target with a search frame where it is absent: an invisible frame of the same video
        (with the official centre box), else any frame of a random sequence (with its own box)."""
        frames, boxes, masks, _ = self._load(dataset, seq_id, template_ids, info)
        invisible = None if visible is None else sample_ids(~visible, rng, 1)
        if invisible is not None:
            s_frames, _, s_masks, meta = self._load(dataset, seq_id, invisible, info)
            height, width = s_frames[0].shape[:2]
            search, name = (s_frames, [self._centre_box(height, width)], s_masks), dataset.get_name()
        else:
            other = self._one_search(rng)
            if other is None:
                return None
            search, meta, name = other
        return {"template_images": frames, "template_anno": boxes, "template_masks": masks,
                "search_images": search[0], "search_anno": search[1], "search_masks": search[2],
                "dataset": name, "test_class": meta.get("object_class_name")}

    def _one_search(self, rng: random.Random) -> tuple[tuple, dict, str] | None:
        """One frame of a random sequence of a random dataset, with its own box (negative search)."""
        dataset = self._pick_dataset(rng)
        seq_id, visible, info = self._sample_sequence(dataset, rng)
        if visible is None:
            ids = [0]
        elif self.frame_sample_mode == "stark":
            ids = sample_ids(_as_bool(info["valid"]), rng, 1)
        else:
            ids = sample_ids(np.ones(len(visible), bool), rng, 1)
        if ids is None:
            return None
        frames, boxes, masks, meta = self._load(dataset, seq_id, ids, info)
        return (frames, boxes, masks), meta, dataset.get_name()

    @staticmethod
    def _centre_box(height: int, width: int) -> tuple[float, ...]:
        w, h = width / 8, height / 8
        return float(int(width / 2 - w / 2)), float(int(height / 2 - h / 2)), float(int(w)), float(int(h))

    # ------------------------------------------------------------------ frame ids per mode
    def _gap_attempts(self, length: int) -> int:
        """Attempts before giving up on a sequence: until the growing gap spans it, plus 100 more base draws."""
        return length // GAP_STEP + 100

    def _ids_causal(self, visible: np.ndarray, info: dict, rng: random.Random):
        nt, ns, n = self.num_template_frames, self.num_search_frames, len(visible)
        gap = 0
        for _ in range(self._gap_attempts(n)):
            base = sample_ids(visible, rng, 1, nt - 1, n - ns)
            if base is None:
                return None
            previous = sample_ids(visible, rng, nt - 1, base[0] - self.max_gap - gap, base[0])
            if previous is None:
                gap += GAP_STEP
                continue
            templates = base + previous
            searches = sample_ids(visible, rng, ns, templates[0] + 1, templates[0] + self.max_gap + gap)
            gap += GAP_STEP
            if searches is not None:
                return templates, searches
        return None

    def _ids_interval(self, visible: np.ndarray, info: dict, rng: random.Random):
        nt, ns = self.num_template_frames, self.num_search_frames
        gap = 0
        for _ in range(self._gap_attempts(len(visible))):
            base = sample_ids(visible, rng, 1)
            extra = sample_ids(visible, rng, nt - 1, base[0] - self.max_gap - gap, base[0] + self.max_gap + gap)
            if extra is None:
                gap += GAP_STEP
                continue
            templates = base + extra
            searches = sample_ids(visible, rng, ns, templates[0] - self.max_gap - gap,
                                  templates[0] + self.max_gap + gap)
            gap += GAP_STEP
            if searches is not None:
                return templates, searches
        return None

    def _ids_order(self, visible: np.ndarray, info: dict, rng: random.Random):
        nt, ns = self.num_template_frames, self.num_search_frames
        gap = 0
        for _ in range(self._gap_attempts(len(visible))):
            base = sample_ids(visible, rng, 1)
            ids = sample_ids(visible, rng, nt + ns, base[0] - self.max_gap - gap, base[0] + self.max_gap + gap)
            gap += GAP_STEP
            if ids is None:
                continue
            ids.sort(reverse=bool(rng.random() < 0.5))
            return ids[:nt], ids[nt:]
        return None

    def _ids_trident(self, visible: np.ndarray, info: dict, rng: random.Random):
        if self.frame_sample_mode == "stark":
            dynamic_mask = _as_bool(info["valid"])
        elif self.frame_sample_mode == "trident_pro":
            dynamic_mask = np.ones(len(visible), bool)
        else:
            dynamic_mask = visible
        for _ in range(self._gap_attempts(len(visible))):
            first = sample_ids(visible, rng, 1)
            search = sample_ids(visible, rng, 1)
            dynamic = []
            for gap in self.max_gap:
                if first[0] >= search[0]:
                    lo, hi = search[0], search[0] + gap
                else:
                    lo, hi = search[0] - gap, search[0]
                dynamic.append(sample_ids(dynamic_mask, rng, 1, lo, hi))
            if all(d is not None for d in dynamic):
                return first + [d[0] for d in dynamic], search
        return None

    # ------------------------------------------------------------------ loading and processing
    def _load(self, dataset, seq_id: int, frame_ids: list[int], info: dict) -> tuple[list, list, list, dict]:
        """Frames, boxes, masks (None where the dataset has none) and meta for `frame_ids`; each id read once."""
        unique = list(dict.fromkeys(frame_ids))
        where = f"dataset {dataset.get_name()}, sequence {seq_id}, frames {unique}"
        try:
            frames, anno, meta = dataset.get_frames(seq_id, unique, info)
        except Exception as e:
            raise SampleError(f"cannot load {where}: {type(e).__name__}: {e}") from e
        if len(frames) != len(unique) or "bbox" not in anno or len(anno["bbox"]) != len(unique):
            raise SampleError(f"{where}: get_frames returned {len(frames)} frames and "
                              f"{len(anno.get('bbox', []))} boxes for {len(unique)} ids")
        for fid, frame in zip(unique, frames):
            if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] < 3 or frame.size == 0:
                raise SampleError(f"{where}: frame {fid} is not an HxWx3 image (or HxWxC: RGB + auxiliary channels) "
                                  f"(got {type(frame).__name__} {getattr(frame, 'shape', '')})")
        position = {fid: k for k, fid in enumerate(unique)}
        order = [position[fid] for fid in frame_ids]
        try:
            boxes = [_box(anno["bbox"][k]) for k in order]
        except (TypeError, ValueError) as e:
            raise SampleError(f"{where}: bad box: {e}") from e
        mask_list = anno.get("mask")
        masks = [None if mask_list is None else mask_list[k] for k in order]
        return [frames[k] for k in order], boxes, masks, meta if isinstance(meta, dict) else {}

    def _process(self, data: dict, rng: random.Random, dataset, seq_id: int,
                 frame_ids: list[int]) -> tuple[dict | None, str]:
        if self.processing is None:
            data["valid"] = True
            return data, ""
        if all(m is None for m in data["template_masks"] + data["search_masks"]):
            data["template_masks"] = data["search_masks"] = None
        try:
            out = self.processing(data, rng)
        except Exception as e:
            raise SampleError(f"processing failed for dataset {dataset.get_name()}, sequence {seq_id}, frames "
                              f"{frame_ids}: {type(e).__name__}: {e}") from e
        if out["valid"]:
            return out, ""
        return out, f"dataset {dataset.get_name()} sequence {seq_id} frames {frame_ids}: rejected by processing"
