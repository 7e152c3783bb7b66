"""A named tracker run (tracker, config, run id): where its results live, and how it follows one sequence."""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import replace
from typing import Any, Iterable, Iterator

import numpy as np

from lib.config import config_label
from lib.test.parameter import TrackerParams
from lib.utils.checkpoint import CheckpointError, file_sha256


class Tracker:
    """`name` is a registered tracker name, `parameter_name` its config (or option, for baselines).

    Results go to `<results_path>/<name>/<parameter_name>[_%03d]`, one subfolder per dataset tag. Constructing
    a Tracker is cheap (analysis code builds them only for `results_dir`); the config and checkpoint are resolved
    on the first `get_parameters()`. `param_options` are passed to `TrackerParams.create` (checkpoint, device,
    debug, save_dir, load_weights, opts, dtype, cuda_graph).
    """

    def __init__(self, name: str, parameter_name: str, dataset_name: str = "", run_id: int | None = None,
                 display_name: str | None = None, results_path: str | None = None, **param_options: Any):
        self.name = name
        self.parameter_name = parameter_name
        self.dataset_name = dataset_name
        self.run_id = run_id
        self.display_name = display_name
        if results_path is None:
            from lib.utils.env import env_settings

            results_path = env_settings().results_path
        label = config_label(parameter_name)
        self.results_dir = os.path.join(results_path, name, label if run_id is None else f"{label}_{run_id:03d}")
        self._param_options = param_options
        self._params: TrackerParams | None = None

    def __repr__(self) -> str:
        run = "" if self.run_id is None else f", run_id={self.run_id}"
        return f"Tracker({self.name!r}, {self.parameter_name!r}{run})"

    def get_parameters(self) -> TrackerParams:
        if self._params is None:
            self._params = TrackerParams.create(self.name, self.parameter_name, dataset_name=self.dataset_name,
                                                **self._param_options)
        return self._params

    def check(self) -> None:
        """Fail once, before any sequence runs, not once per sequence: build the network with the checkpoint on the
        CPU (an unusable or unfitting file is one CheckpointError), or, for a tracker without a network, the
        tracker itself (e.g. an OpenCV algorithm this build lacks)."""
        params = self.get_parameters()
        if not params.has_network:
            self.create_tracker()
            return
        if params.checkpoint is None:
            return
        from lib.test.tracker.base import build_network, load_network

        # On the CPU the checked network is the one the sequences then use (kept by load_network's cache), so an
        # in-process run builds it once.
        build = load_network if params.device == "cpu" else build_network
        try:
            build(replace(params, device="cpu"))
        except RuntimeError as e:
            if isinstance(e, CheckpointError):
                raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(f"checkpoint {params.checkpoint} does not fit tracker '{self.name}' with config "
                                  f"'{self.parameter_name}' ({first[:300]}); give a checkpoint trained with this "
                                  f"config") from e

    def provenance(self) -> dict[str, Any]:
        """What makes this run's results what they are: the checkpoint's content and the resolved config
        (the experiment file with the --opts overrides), with the path and overrides for messages."""
        params = self.get_parameters()
        return {"tracker": self.name, "config": self.parameter_name,
                "checkpoint": os.path.abspath(params.checkpoint) if params.checkpoint else None,
                "checkpoint_sha256": file_sha256(params.checkpoint) if params.checkpoint else None,
                "opts": [str(o) for o in self._param_options.get("opts", ())], "dtype": params.dtype,
                "config_sha256": hashlib.sha256(params.cfg.dump().encode()).hexdigest() if params.cfg else None}

    def set_device(self, device: str) -> None:
        """Run on `device` (a test worker pins itself to one GPU)."""
        self._params = replace(self.get_parameters(), device=device)

    def create_tracker(self) -> Any:
        params = self.get_parameters()
        if params.family.build_tracker is None:
            raise TypeError(f"family '{params.family.name}' declares no build_tracker; tracker '{self.name}' "
                            f"cannot run")
        tracker = params.family.build_tracker(params)
        if params.dtype != "fp32" or params.cuda_graph:
            from lib.test.tracker.accel import accelerate

            accelerate(tracker, params.dtype, params.cuda_graph)
        return tracker

    def run_sequence(self, seq: Any) -> dict[str, list]:
        """Track `seq` from its first-frame box; return {'target_bbox': [[x, y, w, h], ...], 'time': [s, ...]},
        plus 'outputs': {key: [value per frame]} for the tracker's `recorded_outputs`.

        Frames are decoded by `seq.read_frame(i)` (RGB uint8, from files or a packed dataset). The time of a
        frame is the tracker call alone (decoding is not timed), as in the official toolkits. Frame 0 holds the
        initial box and the initialisation time.
        """
        tracker = self.create_tracker()
        info = dict(seq.init_info())
        info.setdefault("seq_name", seq.name)
        frames = (seq.read_frame(index) for index in range(len(seq.frames)))
        boxes, times = [], []
        recorded = {key: [] for key in getattr(tracker, "recorded_outputs", ())}
        for index, (box, seconds, out) in enumerate(track_frames(tracker, frames, info)):
            boxes.append(box)
            times.append(seconds)
            for key, values in recorded.items():  # frame 0 is the given box: nothing recorded
                values.append(np.nan if index == 0 or out.get(key) is None else float(out[key]))
        return {"target_bbox": boxes, "time": times, **({"outputs": recorded} if recorded else {})}


def track_frames(tracker: Any, frames: Iterable[np.ndarray], info: dict) -> Iterator[tuple[list[float], float, dict]]:
    """Initialise `tracker` on the first of `frames` (RGB uint8) with `info` (its 'init_bbox' at least), then track
    the others: yields (box [x, y, w, h], seconds of the tracker call, the tracker's output) per frame, the first
    one included (the initial box unless `initialize` returns one)."""
    frames = iter(frames)
    start = time.perf_counter()
    out = tracker.initialize(next(frames), info) or {}
    previous = {"target_bbox": _xywh(out.get("target_bbox", info["init_bbox"]))}
    yield previous["target_bbox"], time.perf_counter() - start, out
    for image in frames:
        start = time.perf_counter()
        out = tracker.track(image, {"previous_output": previous})
        seconds = time.perf_counter() - start
        previous = out
        yield _xywh(out["target_bbox"]), seconds, out


def _xywh(box: Iterable[float]) -> list[float]:
    values = np.asarray(box, dtype=np.float64).reshape(-1)
    if values.size != 4:
        raise ValueError(f"a tracker returned target_bbox {box!r}; expected [x, y, w, h]")
    return values.tolist()


def trackerlist(name: str, parameter_name: str, dataset_name: str = "", run_ids: int | Iterable[int] | None = None,
                display_name: str | None = None, results_path: str | None = None) -> list[Tracker]:
    """One Tracker per run id (or a single one without run id), as analysis scripts list them."""
    if run_ids is None or isinstance(run_ids, int):
        run_ids = [run_ids]
    return [Tracker(name, parameter_name, dataset_name, run_id, display_name, results_path) for run_id in run_ids]
