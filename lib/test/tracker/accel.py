"""Faster search steps for a network tracker: mixed precision (autocast) and CUDA graph replay.

`accelerate(tracker, dtype, cuda_graph)` rewraps the tracker's `forward_search` in place:
  * dtype fp16 / bf16: the forward runs under torch.autocast on the tracker's device; floating outputs come back
    as float32, so decoding and post-processing are unchanged. Boxes differ from fp32 within the precision's
    rounding (the benchmark and the gpu tests report how much).
  * cuda_graph: the step (`forward_tensors`, called on `search_tensors`) is captured once per input shape as a CUDA graph
    and replayed each frame after copying the new inputs (search crop and template state) into the captured
    buffers; the static shapes of a tracking step make one capture enough. Needs a CUDA device and a tracker
    that declares `search_tensors` / `forward_tensors`.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import torch

from lib.test.tracker.base import NetworkTracker
from lib.utils.cli import UserError

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def _map_tensors(value: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_tensors(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_map_tensors(v, fn) for v in value)
    return value


def _to_float32(value: Any) -> Any:
    return _map_tensors(value, lambda t: t.float() if t.is_floating_point() else t)


def autocast_step(fn: Callable[..., Any], device: torch.device, dtype: torch.dtype) -> Callable[..., Any]:
    @functools.wraps(fn)
    def step(*args: Any) -> Any:
        with torch.autocast(device_type=device.type, dtype=dtype):
            out = fn(*args)
        return _to_float32(out)

    return step


class GraphedStep:
    """`fn(*tensors)` captured as a CUDA graph for the shapes of the first call (recaptured when they change)."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        self.key: tuple | None = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static: list[torch.Tensor | None] = []
        self.out: Any = None

    @staticmethod
    def _key(tensors: tuple) -> tuple:
        return tuple(None if t is None else (tuple(t.shape), t.dtype, t.device) for t in tensors)

    def _capture(self, tensors: tuple) -> None:
        self.static = [None if t is None else t.clone() for t in tensors]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):  # warm-up outside the graph: lazy initialisation, kernel selection
                self.fn(*self.static)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.out = self.fn(*self.static)

    def __call__(self, *tensors: torch.Tensor | None) -> Any:
        key = self._key(tensors)
        if key != self.key:
            self._capture(tensors)
            self.key = key
        for buffer, value in zip(self.static, tensors):
            if buffer is not None:
                buffer.copy_(value)
        self.graph.replay()
        return _map_tensors(self.out, torch.clone)  # the next replay overwrites the graph's outputs


def accelerate(tracker: NetworkTracker, dtype: str = "fp32", cuda_graph: bool = False) -> NetworkTracker:
    """Rewrap `tracker.forward_search` for `dtype` and CUDA graph replay (see the module docstring)."""
    if dtype not in DTYPES:
        raise UserError(f"--dtype {dtype}: choose from {', '.join(DTYPES)}")
    device = torch.device(tracker.params.device)
    if cuda_graph and device.type != "cuda":
        raise UserError("--cuda_graph needs the CUDA device (--device cuda)")
    if not cuda_graph:
        if dtype != "fp32":
            tracker.forward_search = autocast_step(tracker.forward_search, device, DTYPES[dtype])
        return tracker
    step = tracker.forward_tensors
    if dtype != "fp32":
        step = autocast_step(step, device, DTYPES[dtype])
    # forward_search calls forward_tensors, so whatever per-sequence state it carries (e.g. tokens) stays.
    tracker.forward_tensors = GraphedStep(step)
    return tracker
