"""Tracker API and the generic network tracking loop that families plug into.

API (what the test runner, demos and the VOT glue call):
    tracker = family.build_tracker(params)
    tracker.initialize(image, {"init_bbox": [x, y, w, h], ...}) -> dict | None
    tracker.track(image, {"previous_output": ...}) -> {"target_bbox": [x, y, w, h], ...}
`image` is an HxWxC uint8 array (RGB, then any auxiliary channels: depth, thermal, event); boxes are 0-based
frame pixels.

Per-sequence state: everything a network tracker carries from frame to frame lives in `tracker.state`, a
`TrackState` (or the family's subclass, declared as the tracker's `State`) that `initialize` creates afresh; the
network holds none. So one tracker (and its network) can follow several sequences at once by swapping states:
    states[seq] = tracker.state          # after initialize / track on seq
    tracker.state = states[other]; tracker.track(frame_of_other)

`NetworkTracker` runs crop -> forward -> decode -> map back -> clip; a family overrides its hooks only
(`encode_template`, `forward_search`, `decode_box`, optionally `update_templates`). The network is built once
per process and shared by the trackers created there (see `load_network`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn as nn

from lib.config.defaults import input_normalisation
from lib.models.layers.candidate_elimination import skip_eliminated_tokens
from lib.models.layers.fold_bn import fold_batchnorm
from lib.models.layers.packed import pack_layers
from lib.test.parameter import TrackerParams
from lib.test.tracker.utils import Preprocessor
from lib.utils.checkpoint import load_checkpoint, net_state_dict
from lib.utils.crop import clip_box, map_box_back, sample_target


class BaseTracker:
    """Base class of every test-time tracker.

    recorded_outputs: numeric keys of `track()`'s output the runner saves per frame (`<seq>_outputs.txt`, one
    column per key, NaN for the first frame and where a value is None), e.g. which route a routed model took.
    """

    recorded_outputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: TrackerParams):
        self.params = params

    def initialize(self, image: np.ndarray, info: dict) -> dict | None:
        raise NotImplementedError

    def track(self, image: np.ndarray, info: dict | None = None) -> dict:
        raise NotImplementedError


@dataclass
class Crop:
    """A preprocessed square crop around `box` (frame pixels, xywh)."""

    tensor: torch.Tensor  # 1xCxSxS, normalised
    mask: torch.Tensor | None  # 1xSxS bool, True on padding (None unless the tracker asks for masks)
    resize_factor: float  # crop pixels per frame pixel
    box: list[float]


@dataclass
class TrackState:
    """What a network tracker carries between frames of one sequence. A family that carries more (updated
    templates, a temporal token, a score history) subclasses it with its own fields."""

    box: list[float]  # the current target box, frame pixels xywh
    frame_id: int = 0  # frames tracked since initialize
    template: Crop | None = None  # the initial template crop


_network_cache: dict[tuple, nn.Module] = {}


def load_network(params: TrackerParams) -> nn.Module:
    """The family's network for `params`, with its checkpoint loaded, on `params.device`, in eval mode.

    The last network built is kept per process, so a test worker builds it once and reuses it for every
    sequence (trackers are cheap, stateful objects; the network is neither).
    """
    config = params.cfg.dump() if params.cfg is not None else ""
    # The file's modification time makes a checkpoint rewritten in place (a resumed training) load afresh.
    stamp = os.path.getmtime(params.checkpoint) if params.checkpoint is not None else None
    key = (params.family.name, params.train_script, config, params.checkpoint, stamp, params.device)
    if key not in _network_cache:
        _network_cache.clear()
        _network_cache[key] = build_network(params)
    return _network_cache[key]


def split_batch(out: Any, batch: int) -> list[Any]:
    """A batched network output -> one output per sample, each keeping a batch dimension of 1. Tensors whose
    first dimension is `batch` are sliced; other values are shared."""
    def pick(value: Any, i: int) -> Any:
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == batch:
            return value[i:i + 1]
        if isinstance(value, dict):
            return {k: pick(v, i) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(pick(v, i) for v in value)
        return value

    return [pick(out, i) for i in range(batch)]


def clear_network_cache() -> None:
    _network_cache.clear()


def build_network(params: TrackerParams) -> nn.Module:
    if not params.has_network:
        raise ValueError(f"tracker '{params.tracker_name}' has no network (it declares no training script)")
    net = params.family.build_model(params.cfg, False)
    if params.checkpoint is not None:
        state = net_state_dict(load_checkpoint(params.checkpoint), params.checkpoint)
        if params.family.adapt_state_dict is not None:
            state = params.family.adapt_state_dict(state)
        net.load_state_dict(state, strict=True)
    return prepare_for_inference(net.to(params.device).eval())


def prepare_for_inference(net: nn.Module) -> nn.Module:
    """Test-time rewrites that keep the outputs (to float rounding) and only apply to a frozen network: fixed
    BatchNorm folded into the convolutions before it; on the CPU, linear and convolution weights pre-packed for
    oneDNN (lib/models/layers/packed.py), whose convolutions keep activations channels-last (no reorders between
    layers, and a vectorised max-pool), and the remaining 4-D weights channels-last too; candidate-elimination
    blocks skip the attention outputs of the tokens they drop. Training never sees them (the tracker build alone
    calls this, after the checkpoint is loaded)."""
    fold_batchnorm(net)
    skip_eliminated_tokens(net)
    if all(p.device.type == "cpu" for p in net.parameters()):
        net.to(memory_format=torch.channels_last)
        pack_layers(net)
    return net


class NetworkTracker(BaseTracker):
    """Crop -> forward -> decode -> map back -> clip, for trackers that follow one box with a network.

    Hooks (run under torch.inference_mode; per-sequence values go into `self.state`, never onto the network):
      encode_template(crop, info)      store whatever `forward_search` needs in `self.state` (default: the
                                       template crop as `state.template`).
      forward_search(crop) -> out      run the network on the search crop.
      decode_box(out, crop) -> (box, extras)
                                       box: normalised (cx, cy, w, h) in the search crop (0..1), 4 numbers;
                                       extras: extra keys of the output dict (e.g. a confidence score).
      update_templates(image, out, extras)   optional template update after the new state is known.
    Optional, for the accelerated paths: `search_tensors` + `forward_tensors` (the search forward as a function of
    tensors, which a CUDA graph can capture; they also make the default `forward_search`) and the classmethod
    `forward_search_batch` (one forward for several trackers' crops: batched evaluation).
    """

    use_mask: bool = False  # whether crops carry their padding mask (DETR-style models need it)
    clip_margin: int = 10  # the predicted box keeps at least this many pixels inside the frame
    State: ClassVar[type[TrackState]] = TrackState  # the per-sequence state this tracker carries

    def __init__(self, params: TrackerParams, net: nn.Module | None = None):
        super().__init__(params)
        self.net = net if net is not None else load_network(params)
        self.preprocessor = Preprocessor(*input_normalisation(params.cfg.DATA), params.device)
        self.state: TrackState | None = None

    def crop(self, image: np.ndarray, box: list[float], factor: float, size: int) -> Crop:
        """Cut a square of `factor` times the box's size around `box`, resized to `size`, and preprocess it."""
        patch, resize_factor, mask = sample_target(image, box, factor, size)
        tensor, mask_t = self.preprocessor(patch, mask if self.use_mask else None)
        return Crop(tensor, mask_t, float(resize_factor), list(box))

    def initialize(self, image: np.ndarray, info: dict) -> dict | None:
        self.state = self.State(box=[float(v) for v in info["init_bbox"]])
        template = self.crop(image, self.state.box, self.params.template_factor, self.params.template_size)
        with torch.inference_mode():
            self.encode_template(template, info)
        return None

    def track(self, image: np.ndarray, info: dict | None = None) -> dict:
        search = self.next_search(image)
        with torch.inference_mode():
            return self.finish_frame(image, search, self.forward_search(search))

    def next_search(self, image: np.ndarray) -> Crop:
        """Start a frame: the search crop around the previous box."""
        state = self.state
        if state is None:
            raise RuntimeError("track() before initialize(): the tracker has no state for this sequence")
        state.frame_id += 1
        return self.crop(image, state.box, self.params.search_factor, self.params.search_size)

    def finish_frame(self, image: np.ndarray, search: Crop, out: Any) -> dict:
        """End a frame from the network output of `search` (run under torch.inference_mode)."""
        state = self.state
        height, width = image.shape[:2]
        size = self.params.search_size
        box, extras = self.decode_box(out, search)
        box_px = [float(v) * size for v in torch.as_tensor(box).flatten().tolist()]
        whole = map_box_back(box_px, state.box, search.resize_factor, size)
        reported = clip_box(whole, height, width, margin=self.clip_margin)
        state.box = self.next_state_box(whole, reported, height, width)
        self.update_templates(image, out, extras)
        return {"target_bbox": reported, **extras}

    def next_state_box(self, whole: list[float], clipped: list[float], height: int, width: int) -> list[float]:
        """The box the next frame searches around: by default the reported one, clipped to the frame."""
        return list(clipped)

    @classmethod
    def forward_search_batch(cls, trackers: list["NetworkTracker"], searches: list[Crop]) -> list[Any]:
        """Optional: one forward for the search crops of several trackers of this class (each following its own
        sequence, sharing one network), returning what `forward_search` would return for each. Batched
        evaluation (lib/test/evaluation/batched.py) needs it."""
        raise NotImplementedError(f"{cls.__name__} has no batched forward")

    @classmethod
    def supports_batching(cls) -> bool:
        return cls.forward_search_batch.__func__ is not NetworkTracker.forward_search_batch.__func__

    def unbatchable_setting(self) -> str | None:
        """Why this tracker's configuration cannot run batched (a setting its `track` needs beyond one search crop),
        or None."""
        return None

    def encode_template(self, template: Crop, info: dict) -> None:
        self.state.template = template

    def forward_search(self, search: Crop) -> Any:
        """Default: `forward_tensors` on `search_tensors` (families that declare those two need nothing else)."""
        return self.forward_tensors(*self.search_tensors(search))

    def search_tensors(self, search: Crop) -> tuple[torch.Tensor | None, ...]:
        """Every tensor the search forward reads (the crop and the template state), so that a captured step
        (CUDA graph, see lib/test/tracker/accel.py) can be replayed on new values."""
        raise NotImplementedError(f"{type(self).__name__} declares no search_tensors")

    def forward_tensors(self, *tensors: torch.Tensor | None) -> Any:
        """The search forward from `search_tensors(search)` alone."""
        raise NotImplementedError(f"{type(self).__name__} declares no forward_tensors")

    def decode_box(self, out: Any, search: Crop) -> tuple[torch.Tensor | list[float], dict]:
        raise NotImplementedError

    def update_templates(self, image: np.ndarray, out: Any, extras: dict) -> None:
        """No template update by default."""
