"""Timing one tracking step of a test-time tracker: the network alone and the whole tracker per frame.

The clock is chosen for the machine: on a quiet machine wall time at the requested threads; when other work
loads the cores (load average minus our own threads above `BUSY_LOAD_PER_CORE` per core) the process's CPU time at
one thread, the only figure that stays comparable under load (multi-threaded torch spin-waits when the cores are
shared). Ratios against another implementation are only meaningful on a quiet machine (`ratio_allowed`).
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch

from lib.families import UnknownNameError
from lib.test.parameter import TrackerParams
from lib.test.tracker.base import Crop, NetworkTracker, clear_network_cache
from lib.utils.checkpoint import save_checkpoint

BUSY_LOAD_PER_CORE = 0.5
FRAME_SIZE = (480, 640)
INIT_BOX = [280.0, 200.0, 80.0, 60.0]  # x, y, w, h in the synthetic frame


@dataclass
class LoadSample:
    """1-minute load average, the cores, and the threads this benchmark itself keeps busy."""

    load1: float
    cores: int
    own_threads: int

    @property
    def others_per_core(self) -> float:
        return max(0.0, self.load1 - self.own_threads) / self.cores

    @property
    def busy(self) -> bool:
        return self.others_per_core > BUSY_LOAD_PER_CORE


def sample_load(own_threads: int) -> LoadSample:
    return LoadSample(os.getloadavg()[0], os.cpu_count() or 1, own_threads)


def ratio_allowed(samples: list[LoadSample]) -> bool:
    """A speed ratio is reported only when no load sample taken during the measurement was busy."""
    return bool(samples) and not any(s.busy for s in samples)


@dataclass
class Timing:
    """Per-call milliseconds on both clocks; `clock` says which one the report uses."""

    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    clock: str = "wall"

    def add(self, wall_ms: float, cpu_ms: float) -> None:
        self.wall_ms.append(wall_ms)
        self.cpu_ms.append(cpu_ms)

    @property
    def samples_ms(self) -> list[float]:
        return self.cpu_ms if self.clock == "cpu" else self.wall_ms

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    def chunk_medians(self, size: int) -> list[float]:
        """Medians of consecutive runs of `size` calls (one per interleaved round)."""
        samples = self.samples_ms
        return [statistics.median(samples[i:i + size]) for i in range(0, len(samples), size)]

    @property
    def fps(self) -> float:
        return 1000.0 / self.median_ms


def time_calls(fn: Callable[[], object], runs: int, timing: Timing, synchronize: Callable[[], None]) -> Timing:
    """Append `runs` timed calls of `fn` to `timing`; `synchronize` waits for queued device work."""
    for _ in range(runs):
        synchronize()
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        synchronize()
        timing.add((time.perf_counter() - wall) * 1000.0, (time.process_time() - cpu) * 1000.0)
    return timing


def synthetic_frame(seed: int = 0, channels: int = 3) -> np.ndarray:
    """A fixed textured frame, RGB and any auxiliary channels (noise is enough: timing does not depend on the
    content)."""
    return np.random.default_rng(seed).integers(0, 256, (*FRAME_SIZE, channels), dtype=np.uint8)


def build_bench_tracker(tracker_name: str, config: str, weights_file: str, device: str = "cpu",
                        opts: list[str] | tuple = ()) -> NetworkTracker:
    """The registered tracker, built the way test.py builds it, on random weights first saved to `weights_file`
    (a checkpoint with a 'net' entry, so another implementation can load the same weights). The weights are
    seeded: data-dependent paths (a router's choice of branch) go the same way in every run."""
    params = TrackerParams.create(tracker_name, config, load_weights=False, device=device, opts=opts)
    if not params.has_network:
        raise UnknownNameError(f"tracker '{tracker_name}' has no network to time")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = params.family.build_model(params.cfg, False)
    randomise_norm_statistics(model)
    save_checkpoint(weights_file, {"net": model.state_dict()})
    params = replace(params, checkpoint=weights_file)
    clear_network_cache()
    return params.family.build_tracker(params)


@torch.no_grad()
def randomise_norm_statistics(model: torch.nn.Module, seed: int = 0) -> None:
    """BatchNorm statistics and affine terms as trained weights have them (fresh ones are an identity map), so
    that an output comparison also checks the inference rewrites (BN folding)."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(getattr(module, "running_var", None), torch.Tensor):
            size = module.running_var.shape
            module.running_mean.copy_(torch.randn(size, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            if isinstance(getattr(module, "weight", None), torch.Tensor):
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(size, generator=generator) * 0.1)


@dataclass
class BenchSteps:
    """What is timed for one tracker: `network` (the search forward on a fixed crop, templates encoded once) and
    `tracker` (crop + preprocess + network + decode + map back, from the same state every frame)."""

    tracker: NetworkTracker
    frame: np.ndarray
    template: Crop
    search: Crop

    def restart(self) -> None:
        """Initialise the tracker again on the frame: state carried across frames starts afresh."""
        self.tracker.initialize(self.frame, {"init_bbox": list(INIT_BOX)})

    def network(self) -> object:
        with torch.inference_mode():
            return self.tracker.forward_search(self.search)

    def network_batch(self, batch: int) -> list:
        """One batched forward of `batch` copies of the search crop (what batched evaluation runs per frame)."""
        with torch.inference_mode():
            return type(self.tracker).forward_search_batch([self.tracker] * batch, [self.search] * batch)

    def whole(self) -> dict:
        self.tracker.state.box = list(INIT_BOX)
        self.tracker.state.frame_id = 0  # no template update during timing
        return self.tracker.track(self.frame)


def bench_steps(tracker: NetworkTracker, frame: np.ndarray | None = None) -> BenchSteps:
    frame = synthetic_frame(channels=tracker.preprocessor.channels) if frame is None else frame
    params = tracker.params
    template = tracker.crop(frame, list(INIT_BOX), params.template_factor, params.template_size)
    search = tracker.crop(frame, list(INIT_BOX), params.search_factor, params.search_size)
    steps = BenchSteps(tracker, frame, template, search)
    steps.restart()
    return steps


def synchronizer(device: str) -> Callable[[], None]:
    if torch.device(device).type == "cuda":
        return torch.cuda.synchronize
    return lambda: None
