"""Where a tracker's raw results live, and reading them.

Layout: `<results_path>/<script>/<config>[_<run_id:03d>]/<dataset_tag>/<seq>.txt` (every dataset in a folder
named by the sequence's dataset tag), falling back to the flat STARK layout `<results_path>/<script>/<config>/
<seq>.txt`. Each result file has a `<seq>_time.txt` beside it when the runner timed the frames.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

import numpy as np

from lib.utils.cli import UserError
from lib.utils.numeric_text import read_numeric_file

__all__ = ["EvalSequence", "TrackerSpec", "TrackerSpecError", "MissingResultsError", "result_file", "find_missing",
           "find_trackers",
           "read_boxes", "read_times", "time_file_for", "outputs_file_for", "read_recorded_output"]

_MAX_LISTED = 25


class EvalSequence(Protocol):
    """What the analysis needs from an evaluation sequence (lib.test.evaluation objects satisfy it)."""
    name: str
    dataset: str
    ground_truth_rect: np.ndarray
    target_visible: np.ndarray | None


class TrackerSpecError(UserError, ValueError):
    """A --tracker value that is not script:config[:display_name]."""


@dataclass(frozen=True)
class TrackerSpec:
    """One tracker row of a report: results of `script`/`config`, one or several runs averaged."""
    script: str
    config: str
    run_ids: tuple[int | None, ...] = (None,)
    display_name: str | None = None

    @classmethod
    def parse(cls, text: str, run_ids: Sequence[int] | None = None) -> "TrackerSpec":
        """From `script:config[:display name]` (the command-line form)."""
        parts = text.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise TrackerSpecError(f"--tracker '{text}': expected script:config[:display_name]")
        runs = tuple(run_ids) if run_ids else (None,)
        return cls(parts[0], parts[1], runs, parts[2] if len(parts) == 3 and parts[2] else None)

    @property
    def label(self) -> str:
        return self.display_name or f"{self.script}_{self.config}"

    def run_dir(self, results_path: str, run_id: int | None) -> str:
        config = self.config if run_id is None else f"{self.config}_{run_id:03d}"
        return os.path.join(results_path, self.script, config)

    def run_key(self, run_id: int | None) -> str:
        """A file-name-safe identifier of one run (for caches)."""
        return f"{self.script}__{self.config}" + ("" if run_id is None else f"_{run_id:03d}")


class MissingResultsError(UserError, FileNotFoundError):
    """Result files are missing; the message names the tracker run and the sequences."""


def result_file(run_dir: str, seq: EvalSequence) -> str | None:
    """Path of the sequence's result file in our layout or the flat STARK layout, or None."""
    for path in (os.path.join(run_dir, seq.dataset, f"{seq.name}.txt"), os.path.join(run_dir, f"{seq.name}.txt")):
        if os.path.isfile(path):
            return path
    return None


def find_trackers(results_path: str, sequences: Sequence[EvalSequence]) -> list[TrackerSpec]:
    """Every run folder `<results_path>/<script>/<folder>` holding a result for one of `sequences` at least, as
    one tracker each (config = the folder's name, so `<config>_NNN` run folders are rows of their own), sorted."""
    found = []
    for script in sorted(_subfolders(results_path)):
        for config in sorted(_subfolders(os.path.join(results_path, script))):
            run_dir = os.path.join(results_path, script, config)
            if any(result_file(run_dir, seq) is not None for seq in sequences):
                found.append(TrackerSpec(script, config))
    return found


def _subfolders(path: str) -> list[str]:
    if not os.path.isdir(path):
        return []
    return [entry.name for entry in os.scandir(path) if entry.is_dir()]


def time_file_for(result_path: str) -> str:
    return result_path[:-len(".txt")] + "_time.txt"


def find_missing(tracker: TrackerSpec, results_path: str, sequences: Iterable[EvalSequence]) \
        -> dict[int | None, list[str]]:
    """For each run of `tracker`, the names of sequences without a result file (runs with none missing omitted)."""
    missing: dict[int | None, list[str]] = {}
    for run_id in tracker.run_ids:
        run_dir = tracker.run_dir(results_path, run_id)
        names = [seq.name for seq in sequences if result_file(run_dir, seq) is None]
        if names:
            missing[run_id] = names
    return missing


def missing_message(tracker: TrackerSpec, results_path: str, missing: dict[int | None, list[str]],
                    dataset_tag: str, total: int) -> str:
    """One line per tracker: the runs and sequences without results, and where they were looked for."""
    parts = []
    for run_id, names in missing.items():
        run_dir = tracker.run_dir(results_path, run_id)
        shown = ", ".join(names[:_MAX_LISTED]) + (f", ... ({len(names) - _MAX_LISTED} more)"
                                                   if len(names) > _MAX_LISTED else "")
        parts.append(f"tracker '{tracker.label}' ({tracker.script}:{tracker.config}"
                     f"{'' if run_id is None else f', run {run_id}'}) has no results for {len(names)} of {total} "
                     f"sequences: {shown} (looked for {os.path.join(run_dir, dataset_tag, '<seq>.txt')} and "
                     f"{os.path.join(run_dir, '<seq>.txt')})")
    return "; ".join(parts)


def read_boxes(path: str) -> np.ndarray:
    """(N, 4) float64 boxes of a result file (TAB or comma)."""
    return read_numeric_file(path, 4)


def read_times(result_path: str) -> np.ndarray | None:
    """Per-frame seconds from the result's `_time.txt`, or None when there is none."""
    path = time_file_for(result_path)
    if not os.path.isfile(path):
        return None
    return read_numeric_file(path, 1).ravel()


def outputs_file_for(result_path: str) -> str:
    """The per-frame recorded outputs beside a result file (lib/test/evaluation/running.py writes them)."""
    return result_path[:-len(".txt")] + "_outputs.txt"


def read_recorded_output(result_path: str, key: str, needed_by: str) -> np.ndarray:
    """Column `key` of the result's `<seq>_outputs.txt` (a header of keys, then one TAB-separated row per frame;
    NaN where the tracker gave none). MissingResultsError naming the file when it or the column is missing;
    `needed_by` says what needs it."""
    path = outputs_file_for(result_path)
    advice = (f"{needed_by} needs the tracker's per-frame '{key}' (trackers that list it in recorded_outputs, "
              f"e.g. sdstrack, write it); rerun tracking/test.py with such a tracker")
    if not os.path.isfile(path):
        raise MissingResultsError(f"{path} does not exist: {advice}")
    with open(path, encoding="utf-8") as f:
        keys = f.readline().rstrip("\n").split("\t")
        if key not in keys:
            raise MissingResultsError(f"{path} has no '{key}' column (it has {', '.join(keys)}): {advice}")
        try:
            rows = np.loadtxt(f, delimiter="\t", ndmin=2, dtype=np.float64)
        except ValueError as e:
            raise MissingResultsError(f"{path} is not a table of numbers ({e}): {advice}") from None
    if rows.size and rows.shape[1] != len(keys):
        raise MissingResultsError(f"{path}: {rows.shape[1]} columns under {len(keys)} keys: {advice}")
    return rows[:, keys.index(key)] if rows.size else np.zeros(0)
