"""Pack raw results into the GOT-10k and TrackingNet evaluation-server layouts.

GOT-10k: one zip with a folder per sequence, `<seq>/<seq>_001.txt` (one per repetition: `_002`, `_003` for runs 2
and 3), comma-separated `x,y,w,h` for every frame including the first, and `<seq>/<seq>_time.txt` (per-frame
seconds, one column per repetition, as the got10k toolkit writes it).
TrackingNet: one zip with a flat `<seq>.txt` per sequence, comma-separated, every frame.

The zip is written atomically next to the results (`<results>/<script>/<config>/got10k_submit.zip`); the raw
result folders are only read, never moved or deleted (the official scripts delete them, and on Python >= 3.10
their `make_archive` call lands the zip inside the folder being deleted).
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile
from typing import Sequence

import numpy as np

from lib.test.analysis.results import TrackerSpec, read_boxes, read_times
from lib.utils.io import atomic_save

__all__ = ["result_sequences", "format_rows", "pack_got10k", "pack_trackingnet", "got10k_main",
           "trackingnet_main", "GOT10K_TEST_SIZE", "TRACKINGNET_TEST_SIZE"]

GOT10K_TEST_SIZE = 180
TRACKINGNET_TEST_SIZE = 511
# Side files a runner writes beside `<seq>.txt`; they are not sequences.
_SIDE_SUFFIXES = ("_time", "_outputs", "_all_boxes", "_all_scores", "_object_presence_score", "_object_presence_scores")


def result_sequences(folder: str) -> dict[str, str]:
    """{sequence name: result file} for the `<seq>.txt` files of a results folder, sorted by name."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no results folder {folder} (run tracking/test.py on the test split first)")
    found = {}
    for entry in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(entry)
        if ext == ".txt" and not stem.endswith(_SIDE_SUFFIXES):
            found[stem] = os.path.join(folder, entry)
    if not found:
        raise FileNotFoundError(f"no <seq>.txt result files in {folder}")
    return found


def format_rows(values: np.ndarray, fmt: str | None = None) -> str:
    """Comma-separated rows. By default integers stay integers and anything else gets 4 decimals (boxes keep
    their sub-pixel precision)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if fmt is None:
        integral = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
        fmt = "%d" if integral else "%.4f"
    buf = io.StringIO()
    np.savetxt(buf, values, fmt=fmt, delimiter=",")
    return buf.getvalue()


def _time_columns(result_files: list[str], seq: str) -> str | None:
    """Per-frame seconds, one column per repetition; None when no run has a time file."""
    columns = [t for t in (read_times(p) for p in result_files) if t is not None]
    if not columns:
        return None
    if len({len(c) for c in columns}) != 1:
        raise ValueError(f"sequence '{seq}': time files of the runs have different lengths "
                         f"{[len(c) for c in columns]}")
    return format_rows(np.stack(columns, axis=1), fmt="%.8f")  # the toolkit's precision


def _write_zip(zip_path: str, entries: dict[str, str]) -> None:
    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, text in entries.items():
                zf.writestr(name, text)
    atomic_save(zip_path, write)


def _warn_count(found: int, expected: int, what: str) -> None:
    if found != expected:
        print(f"warning: {found} sequences packed; the {what} test set has {expected}", file=sys.stderr)


def pack_got10k(run_folders: Sequence[str], zip_path: str) -> list[str]:
    """Zip the GOT-10k results of one or more runs (repetition k = k-th folder); returns the sequence names."""
    per_run = [result_sequences(folder) for folder in run_folders]
    names = list(per_run[0])
    for folder, found in zip(run_folders[1:], per_run[1:]):
        if set(found) != set(names):
            diff = sorted(set(found) ^ set(names))
            raise ValueError(f"{folder} and {run_folders[0]} hold different sequences: {diff[:10]}")
    entries, untimed = {}, []
    for seq in names:
        files = [found[seq] for found in per_run]
        lengths = set()
        for k, path in enumerate(files, start=1):
            boxes = read_boxes(path)
            lengths.add(len(boxes))
            entries[f"{seq}/{seq}_{k:03d}.txt"] = format_rows(boxes)
        if len(lengths) != 1:
            raise ValueError(f"sequence '{seq}': the runs have different numbers of frames {sorted(lengths)}")
        times = _time_columns(files, seq)
        if times is None:
            untimed.append(seq)
        else:
            entries[f"{seq}/{seq}_time.txt"] = times
    if untimed:
        print(f"warning: no <seq>_time.txt for {len(untimed)} sequences (e.g. {untimed[0]}): the server will report "
              f"no speed for them", file=sys.stderr)
    _write_zip(zip_path, entries)
    return names


def pack_trackingnet(run_folder: str, zip_path: str) -> list[str]:
    """Zip the TrackingNet results of one run as flat `<seq>.txt` files; returns the sequence names."""
    found = result_sequences(run_folder)
    _write_zip(zip_path, {f"{seq}.txt": format_rows(read_boxes(path)) for seq, path in found.items()})
    return list(found)


def _parser(description: str, runs: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tracker_name", required=True, help="tracker script, e.g. stark_st")
    parser.add_argument("--cfg_name", required=True, help="config name, e.g. baseline_got10k_only")
    if runs:
        parser.add_argument("--runs", type=int, nargs="+",
                            help="run ids packed as repetitions 1, 2, 3 (result folders <cfg_name>_NNN)")
    parser.add_argument("--results_dir", help="results root (default: env_settings().results_path)")
    parser.add_argument("--output", help="zip path (default: <results>/<script>/<cfg_name>/<dataset>_submit.zip)")
    return parser


def _results_root(args: argparse.Namespace) -> str:
    if args.results_dir:
        return args.results_dir
    from lib.utils.env import env_settings
    return env_settings().results_path


def _pack_main(argv: Sequence[str] | None, tag: str, expected: int, runs: bool) -> int:
    args = _parser(f"Pack {tag} test results for the evaluation server", runs).parse_args(argv)
    root = _results_root(args)
    tracker = TrackerSpec(args.tracker_name, args.cfg_name, tuple(args.runs) if runs and args.runs else (None,))
    folders = [os.path.join(tracker.run_dir(root, r), tag) for r in tracker.run_ids]
    zip_path = args.output or os.path.join(tracker.run_dir(root, None), f"{tag}_submit.zip")
    try:
        names = pack_got10k(folders, zip_path) if tag == "got10k" else pack_trackingnet(folders[0], zip_path)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    _warn_count(len(names), expected, tag)
    print(f"packed {len(names)} sequences from {len(folders)} run(s) into {zip_path}")
    return 0


def got10k_main(argv: Sequence[str] | None = None) -> int:
    return _pack_main(argv, "got10k", GOT10K_TEST_SIZE, runs=True)


def trackingnet_main(argv: Sequence[str] | None = None) -> int:
    return _pack_main(argv, "trackingnet", TRACKINGNET_TEST_SIZE, runs=False)
