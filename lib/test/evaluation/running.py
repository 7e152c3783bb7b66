"""Run trackers over datasets: resumable, crash-tolerant, optionally in parallel worker processes.

Result files, per sequence, in `<tracker.results_dir>/<seq.dataset>/`:
  `<seq>_time.txt`  one float per frame (seconds of tracker time), written first;
  `<seq>.txt`       one `x<TAB>y<TAB>w<TAB>h` line per frame (floats, frame 0 = initial box), written last.
Both are written atomically, so the box file exists only for a finished sequence: that is the "done" marker a
rerun uses to skip work. A crash inside one sequence is reported and the others go on.
"""
from __future__ import annotations

import contextlib
import glob
import io
import multiprocessing as mp
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from lib.test.evaluation.tracker import Tracker
from lib.utils.device import cpu_threads_per_process
from lib.utils.io import atomic_write_text

BOX_FORMAT = "%.4f"
TIME_FORMAT = "%.6f"


@dataclass
class SequenceOutcome:
    name: str
    tracker: str
    frames: int = 0
    seconds: float = 0.0  # summed tracker time over the frames
    error: str = ""  # traceback summary when the sequence failed

    @property
    def failed(self) -> bool:
        return bool(self.error)


@dataclass
class RunSummary:
    done: list[SequenceOutcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[SequenceOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def merge(self, other: "RunSummary") -> None:
        self.done += other.done
        self.skipped += other.skipped
        self.failed += other.failed


def result_files(tracker: Tracker, seq: Any) -> tuple[str, str]:
    """(box file, time file) of `seq` for `tracker`."""
    folder = os.path.join(tracker.results_dir, seq.dataset)
    return os.path.join(folder, f"{seq.name}.txt"), os.path.join(folder, f"{seq.name}_time.txt")


def sequence_done(tracker: Tracker, seq: Any) -> bool:
    return os.path.isfile(result_files(tracker, seq)[0])


def save_results(tracker: Tracker, seq: Any, output: dict[str, list]) -> None:
    boxes = np.asarray(output["target_bbox"], dtype=np.float64).reshape(-1, 4)
    times = np.asarray(output["time"], dtype=np.float64).reshape(-1, 1)
    if len(boxes) != len(times):
        raise ValueError(f"{seq.name}: {len(boxes)} boxes but {len(times)} frame times")
    box_file, time_file = result_files(tracker, seq)
    atomic_write_text(time_file, _table(times, TIME_FORMAT))
    atomic_write_text(box_file, _table(boxes, BOX_FORMAT))


def _table(values: np.ndarray, fmt: str) -> str:
    buffer = io.StringIO()
    np.savetxt(buffer, values, fmt=fmt, delimiter="\t")
    return buffer.getvalue()


def _remove_stale_temporaries(tracker: Tracker, seq: Any) -> None:
    """Temporary files left by a killed run (see lib.utils.io.atomic_open for their names)."""
    for path in result_files(tracker, seq):
        folder, base = os.path.split(path)
        for tmp in glob.glob(os.path.join(glob.escape(folder), glob.escape(f".{base}.") + "*.tmp")):
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)


def run_sequence(seq: Any, tracker: Tracker, debug: int = 0) -> SequenceOutcome:
    """Track one sequence and save its results. Errors are returned as a traceback summary (re-raised when
    `debug` is set, to stop in the failing code)."""
    label = _label(tracker)
    try:
        _remove_stale_temporaries(tracker, seq)
        output = tracker.run_sequence(seq)
        save_results(tracker, seq, output)
    except Exception as e:
        if debug:
            raise
        return SequenceOutcome(seq.name, label, error=_summary(e))
    return SequenceOutcome(seq.name, label, len(output["time"]), float(sum(output["time"][1:])))


def _label(tracker: Tracker) -> str:
    return f"{tracker.name}/{os.path.basename(tracker.results_dir)}"


def _summary(error: BaseException) -> str:
    """The exception and the innermost frames of its traceback."""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__, limit=-3)).rstrip()


def run_dataset(dataset: Iterable[Any], trackers: Tracker | Iterable[Tracker], debug: int = 0, threads: int = 0,
                num_gpus: int = 1, progress: bool = True, batch_sequences: int = 1) -> RunSummary:
    """Run every tracker on every unfinished sequence of `dataset`.

    threads: 0 runs sequentially in this process; N > 0 uses N spawned worker processes, worker k on GPU
    k % num_gpus when the tracker's device is CUDA. Each process builds a tracker's network once.
    batch_sequences: N > 1 tracks N sequences in lockstep in this process (see batched.py).
    """
    dataset = list(dataset)
    summary = RunSummary()
    for tracker in [trackers] if isinstance(trackers, Tracker) else list(trackers):
        summary.merge(_run_tracker(dataset, tracker, debug, threads, num_gpus, progress, batch_sequences))
    return summary


def _run_tracker(dataset: list[Any], tracker: Tracker, debug: int, threads: int, num_gpus: int,
                 progress: bool, batch_sequences: int = 1) -> RunSummary:
    tracker.get_parameters()  # fail now (unknown config, missing checkpoint), not once per sequence
    summary = RunSummary(skipped=[seq.name for seq in dataset if sequence_done(tracker, seq)])
    todo = [seq for seq in dataset if not sequence_done(tracker, seq)]
    label = _label(tracker)
    if summary.skipped:
        print(f"{label}: {len(summary.skipped)} of {len(dataset)} sequences already done, skipping them")
    if not todo:
        return summary
    if batch_sequences > 1:
        from lib.test.evaluation.batched import run_batched

        outcomes = run_batched(todo, tracker, batch_sequences, debug)
    elif threads > 0 and len(todo) > 1:
        outcomes = _run_parallel(todo, tracker, threads, num_gpus)
    else:
        outcomes = (run_sequence(seq, tracker, debug) for seq in todo)
    frames, seconds = 0, 0.0
    with tqdm(total=len(todo), desc=label, unit="seq", disable=not progress, dynamic_ncols=True) as bar:
        for outcome in outcomes:
            if outcome.failed:
                summary.failed.append(outcome)
                bar.write(f"FAILED {label} {outcome.name}:\n{outcome.error}")
            else:
                summary.done.append(outcome)
                frames, seconds = frames + outcome.frames - 1, seconds + outcome.seconds
            bar.set_postfix(fps=f"{frames / seconds:.1f}" if seconds > 0 else "-", failed=len(summary.failed))
            bar.update()
    return summary


def _run_parallel(todo: list[Any], tracker: Tracker, threads: int, num_gpus: int) -> Iterator[SequenceOutcome]:
    context = mp.get_context("spawn")  # CUDA cannot be re-initialised in a forked child
    counter = context.Value("i", 0)
    with context.Pool(min(threads, len(todo)), initializer=_init_worker,
                      initargs=(tracker, counter, max(num_gpus, 1), min(threads, len(todo)))) as pool:
        yield from pool.imap_unordered(_worker_run, todo, chunksize=1)


_worker_tracker: Tracker | None = None


def _init_worker(tracker: Tracker, counter: Any, num_gpus: int, workers: int) -> None:
    global _worker_tracker
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    device = tracker.get_parameters().device
    if device.startswith("cuda"):
        import torch

        gpu = index % num_gpus
        torch.cuda.set_device(gpu)
        tracker.set_device(f"cuda:{gpu}")
    else:
        _share_cpu_cores(workers)
    _worker_tracker = tracker


def _share_cpu_cores(workers: int) -> None:
    """Give this worker its share of the cores (torch and OpenCV)."""
    threads = cpu_threads_per_process(workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # read when torch is first imported in this worker
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    import cv2  # frames are read with OpenCV in every worker

    cv2.setNumThreads(threads)


def _worker_run(seq: Any) -> SequenceOutcome:
    return run_sequence(seq, _worker_tracker)
