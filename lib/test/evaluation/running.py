"""Run trackers over datasets: resumable, crash-tolerant, optionally in parallel worker processes.

Result files, per sequence, in `<tracker.results_dir>/<seq.dataset>/`:
  `<seq>_time.txt`  one float per frame (seconds of tracker time), written first;
  `<seq>_outputs.txt`  only for a tracker with `recorded_outputs`: a header of keys, then one row per frame;
  `<seq>.txt`       one `x<TAB>y<TAB>w<TAB>h` line per frame (floats, frame 0 = initial box), written last.
Both are written atomically, so the box file exists only for a finished sequence: that is the "done" marker a
rerun uses to skip work. A crash inside one sequence is reported and the others go on.

`<tracker.results_dir>/run_manifest.json` records what produced the results (checkpoint hash, resolved config
hash, overrides): a rerun with a different checkpoint or config is an error rather than a silent reuse of the old
results, unless `overwrite` replaces them.
"""
from __future__ import annotations

import glob
import io
import json
import multiprocessing as mp
import os
import shutil
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from lib.test.evaluation.tracker import Tracker
from lib.utils.cli import UserError
from lib.utils.device import cpu_threads_per_process
from lib.utils.io import atomic_write_text
from lib.utils.process import exit_with_parent

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

    def tracking_fps(self) -> float | None:
        """Frames after each finished sequence's first over their tracker time (decoding not timed, as the
        toolkits do); None when no such frame ran."""
        seconds = sum(o.seconds for o in self.done)
        return sum(o.frames - 1 for o in self.done) / seconds if seconds > 0 else None


def result_files(tracker: Tracker, seq: Any) -> tuple[str, str]:
    """(box file, time file) of `seq` for `tracker`."""
    folder = os.path.join(tracker.results_dir, seq.dataset)
    return os.path.join(folder, f"{seq.name}.txt"), os.path.join(folder, f"{seq.name}_time.txt")


def sequence_done(tracker: Tracker, seq: Any) -> bool:
    return os.path.isfile(result_files(tracker, seq)[0])


def save_results(tracker: Tracker, seq: Any, output: dict[str, list]) -> None:
    write_results(*result_files(tracker, seq), output)


def write_results(box_file: str, time_file: str, output: dict[str, list]) -> None:
    """`output` (as `Tracker.run_sequence` returns it) as the box file, the time file and, with recorded outputs,
    `<box file>_outputs.txt`; each atomically, the box file last."""
    boxes = np.asarray(output["target_bbox"], dtype=np.float64).reshape(-1, 4)
    times = np.asarray(output["time"], dtype=np.float64).reshape(-1, 1)
    if len(boxes) != len(times):
        raise ValueError(f"{box_file}: {len(boxes)} boxes but {len(times)} frame times")
    atomic_write_text(time_file, _table(times, TIME_FORMAT))
    if output.get("outputs"):
        atomic_write_text(outputs_file(box_file), _outputs_table(output["outputs"], len(boxes)))
    atomic_write_text(box_file, _table(boxes, BOX_FORMAT))


def outputs_file(box_file: str) -> str:
    """The per-frame recorded outputs beside a result file `<seq>.txt`: `<seq>_outputs.txt`."""
    return box_file[:-len(".txt")] + "_outputs.txt"


def _outputs_table(outputs: dict[str, list], frames: int) -> str:
    """A header line of keys, then one tab-separated row per frame."""
    columns = np.asarray(list(outputs.values()), dtype=np.float64).reshape(len(outputs), -1).T
    if len(columns) != frames:
        raise ValueError(f"{len(columns)} rows of recorded outputs for {frames} frames")
    return "\t".join(outputs) + "\n" + _table(columns, "%.6g")


def _table(values: np.ndarray, fmt: str) -> str:
    buffer = io.StringIO()
    np.savetxt(buffer, values, fmt=fmt, delimiter="\t")
    return buffer.getvalue()


def run_sequence(seq: Any, tracker: Tracker, debug: int = 0) -> SequenceOutcome:
    """Track one sequence and save its results. Errors are returned as a traceback summary (re-raised when
    `debug` is set, to stop in the failing code)."""
    label = _label(tracker)
    try:
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


MANIFEST = "run_manifest.json"
# The manifest entries that decide whether existing results may be reused (a manifest without "dtype" is from
# before the precision was recorded: fp32).
_DECISIVE = {"checkpoint_sha256": None, "config_sha256": None, "dtype": "fp32"}


class ResultsMismatchError(UserError):
    """A results folder holds results of another checkpoint or config."""


def _existing_results(folder: str) -> list[str]:
    return glob.glob(os.path.join(glob.escape(folder), "**", "*.txt"), recursive=True)


def _read_manifest(path: str, overwrite: bool) -> dict | None:
    """The manifest at `path`; None when there is none. An unreadable one is an error unless `overwrite`
    (then it counts as a mismatch)."""
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
        if not isinstance(manifest, dict):
            raise ValueError(f"a {type(manifest).__name__}, not an object")
        return manifest
    except (OSError, ValueError) as e:
        if overwrite:
            return {}
        raise ResultsMismatchError(f"{path} is unreadable ({e}); the results beside it cannot be tied to a "
                                   f"checkpoint: pass --overwrite to replace them, or choose another --runid or "
                                   f"--results_dir") from e


def claim_results_folder(tracker: Tracker, overwrite: bool = False) -> None:
    """Tie `tracker.results_dir` to what produces its results (see the module docstring)."""
    path = os.path.join(tracker.results_dir, MANIFEST)
    current = tracker.provenance()
    existing = _existing_results(tracker.results_dir)
    previous = _read_manifest(path, overwrite)
    if previous is not None and existing and any(previous.get(k, old) != current[k] for k, old in _DECISIVE.items()):
        if not overwrite:
            raise ResultsMismatchError(
                f"{tracker.results_dir} holds {len(existing)} result files of checkpoint {previous.get('checkpoint')} "
                f"with overrides {previous.get('opts')} in {previous.get('dtype', 'fp32')}; this run uses checkpoint "
                f"{current['checkpoint']} with overrides {current['opts']} in {current['dtype']} (or a changed "
                f"config); pass --overwrite to replace those results, or choose another --runid or --results_dir")
        shutil.rmtree(tracker.results_dir)
        print(f"{tracker.results_dir}: removed {len(existing)} result files of another checkpoint or config "
              f"(--overwrite)")
    elif previous is None and existing:
        print(f"{tracker.results_dir}: {len(existing)} result files without {MANIFEST} (an older version made "
              f"them); assuming they come from this checkpoint and config")
    if previous != current:
        atomic_write_text(path, json.dumps(current, indent=2) + "\n")


def run_dataset(dataset: Iterable[Any], trackers: Tracker | Iterable[Tracker], debug: int = 0, threads: int = 0,
                num_gpus: int = 1, progress: bool = True, overwrite: bool = False,
                batch_sequences: int = 1) -> RunSummary:
    """Run every tracker on every unfinished sequence of `dataset`.

    threads: 0 runs sequentially in this process; N > 0 uses N spawned worker processes, worker k on GPU
    k % num_gpus when the tracker's device is CUDA. Each process builds a tracker's network once.
    overwrite: replace results made with another checkpoint or config instead of stopping.
    batch_sequences: N > 1 tracks N sequences in lockstep in this process (see batched.py).
    """
    dataset = list(dataset)
    summary = RunSummary()
    for tracker in [trackers] if isinstance(trackers, Tracker) else list(trackers):
        summary.merge(_run_tracker(dataset, tracker, debug, threads, num_gpus, progress, overwrite,
                                   batch_sequences))
    return summary


def _run_tracker(dataset: list[Any], tracker: Tracker, debug: int, threads: int, num_gpus: int,
                 progress: bool, overwrite: bool = False, batch_sequences: int = 1) -> RunSummary:
    tracker.check()
    claim_results_folder(tracker, overwrite)
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
    with tqdm(total=len(todo), desc=label, unit="seq", disable=not progress, dynamic_ncols=True) as bar:
        for outcome in outcomes:
            if outcome.failed:
                summary.failed.append(outcome)
                bar.write(f"FAILED {label} {outcome.name}:\n{outcome.error}")
            else:
                summary.done.append(outcome)
            fps = summary.tracking_fps()
            bar.set_postfix(fps="-" if fps is None else f"{fps:.1f}", failed=len(summary.failed))
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
    exit_with_parent()  # a killed test.py takes its workers with it
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
