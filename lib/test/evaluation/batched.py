"""Batched evaluation: N sequences tracked in lockstep, one network forward for their N search crops per frame.

Each sequence keeps its own tracker object (state, templates); only the search forward is shared, through the
tracker class's `forward_search_batch`. Initialisation, cropping, decoding and template updates stay per
sequence, so the boxes equal those of running each sequence alone up to float rounding of the batched kernels.
A finished sequence frees its slot for the next one, so the batch stays full until the dataset runs out.

Frame times: the time of one lockstep frame (crops, forward, post-processing of every slot) is divided among the
sequences in it. An error while starting a sequence fails that sequence; an error in a lockstep frame fails the
sequences of that frame (the batch cannot tell which one caused it).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch

from lib.test.evaluation.running import SequenceOutcome, _label, _summary, save_results
from lib.test.evaluation.tracker import Tracker, _xywh
from lib.test.tracker.accel import DTYPES, autocast_step
from lib.test.tracker.base import NetworkTracker
from lib.utils.cli import UserError


@dataclass
class _Slot:
    seq: Any
    tracker: NetworkTracker
    boxes: list[list[float]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return len(self.boxes) == len(self.seq.frames)


def check_batchable(tracker: Tracker) -> type[NetworkTracker]:
    """The tracker's class, after checking that it can run batched with this run's settings."""
    params = tracker.get_parameters()
    built = params.family.build_tracker
    instance = built(params) if built is not None else None
    if not isinstance(instance, NetworkTracker) or not instance.supports_batching():
        raise UserError(f"--batch_sequences: tracker '{tracker.name}' has no batched forward; run it with "
                        f"--batch_sequences 1")
    if (reason := instance.unbatchable_setting()) is not None:
        raise UserError(f"--batch_sequences: {reason}; run it with --batch_sequences 1")
    if params.cuda_graph:
        raise UserError("--cuda_graph replays one sequence's step; it does not go with --batch_sequences")
    return type(instance)


def batched_forward(tracker: Tracker, cls: type[NetworkTracker]) -> Callable[[list[NetworkTracker], list], list]:
    """`cls.forward_search_batch`, under autocast when the run asks for fp16 / bf16."""
    params = tracker.get_parameters()
    forward = cls.forward_search_batch
    if params.dtype == "fp32":
        return forward
    return autocast_step(forward, torch.device(params.device), DTYPES[params.dtype])


def run_batched(todo: list[Any], tracker: Tracker, batch: int, debug: int = 0) -> Iterator[SequenceOutcome]:
    """Track the sequences of `todo` `batch` at a time in lockstep; save each one's results when it finishes."""
    forward = batched_forward(tracker, check_batchable(tracker))
    pending = iter(todo)
    slots: list[_Slot] = []
    while True:
        while len(slots) < batch and (seq := next(pending, None)) is not None:
            slot, failure = _start(seq, tracker, debug)
            if failure is not None:
                yield failure
            elif slot.done:  # a one-frame sequence
                yield _finish(slot, tracker, debug)
            else:
                slots.append(slot)
        if not slots:
            return
        try:
            _lockstep_frame(slots, forward)
        except Exception as e:
            if debug:
                raise
            for slot in slots:
                yield SequenceOutcome(slot.seq.name, _label(tracker), error=_summary(e))
            slots = []
            continue
        for slot in [s for s in slots if s.done]:
            slots.remove(slot)
            yield _finish(slot, tracker, debug)


def _start(seq: Any, tracker: Tracker, debug: int) -> tuple[_Slot | None, SequenceOutcome | None]:
    """A new slot with the tracker initialised on frame 0, or the outcome of a sequence that failed to start."""
    try:
        slot = _Slot(seq, tracker.create_tracker())
        info = dict(seq.init_info())
        info.setdefault("seq_name", seq.name)
        image = seq.read_frame(0)
        start = time.perf_counter()
        out = slot.tracker.initialize(image, info) or {}
        slot.times.append(time.perf_counter() - start)
        slot.boxes.append(_xywh(out.get("target_bbox", info["init_bbox"])))
        return slot, None
    except Exception as e:
        if debug:
            raise
        return None, SequenceOutcome(seq.name, _label(tracker), error=_summary(e))


def _lockstep_frame(slots: list[_Slot], forward: Callable[[list[NetworkTracker], list], list]) -> None:
    """The next frame of every slot, with one network forward (`batched_forward`) for all of them."""
    images = [slot.seq.read_frame(len(slot.boxes)) for slot in slots]
    trackers = [slot.tracker for slot in slots]
    start = time.perf_counter()
    searches = [t.next_search(image) for t, image in zip(trackers, images)]
    with torch.inference_mode():
        outs = forward(trackers, searches)
        results = [t.finish_frame(image, search, out) for t, image, search, out in zip(trackers, images, searches,
                                                                                       outs)]
    share = (time.perf_counter() - start) / len(slots)
    for slot, result in zip(slots, results):
        slot.boxes.append(_xywh(result["target_bbox"]))
        slot.times.append(share)


def _finish(slot: _Slot, tracker: Tracker, debug: int) -> SequenceOutcome:
    label = _label(tracker)
    try:
        save_results(tracker, slot.seq, {"target_bbox": slot.boxes, "time": slot.times})
    except Exception as e:
        if debug:
            raise
        return SequenceOutcome(slot.seq.name, label, error=_summary(e))
    return SequenceOutcome(slot.seq.name, label, len(slot.times), float(sum(slot.times[1:])))
