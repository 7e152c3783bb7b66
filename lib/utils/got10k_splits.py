"""GOT-10k training splits, defined by a rule instead of shipped id lists (see lib/train/data_specs/README.md).

The official pytracking/STARK split files (thousands of ids) are not available offline. This module defines the
splits deterministically from the number of sequences in `train/list.txt`, so they work on any copy, real or
synthetic, and it reads an explicit split file (official format: one 0-based row id of list.txt per line) when
the caller has one. numpy-free and torch-free: the evaluation side (got10k_ltrval) uses it too.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["SPLITS", "HELD_OUT_MODULUS", "HELD_OUT_RESIDUES", "split_ids", "read_split_file", "read_name_list"]

SPLITS = ("train", "val", "vottrain", "votval", "train_full")
# Row ids whose value modulo 20 is in this set form the held-out part: 3 in 20 = 15 %, the share of the official
# val (1,401 / 9,335) and votval (1,249 / 8,335) splits.
HELD_OUT_MODULUS = 20
HELD_OUT_RESIDUES = frozenset({3, 10, 17})


def _held_out(i: int) -> bool:
    return i % HELD_OUT_MODULUS in HELD_OUT_RESIDUES


def split_ids(split: str, names: Sequence[str], vot_exclude: Optional[Sequence[str]] = None) -> list[int]:
    """0-based row ids of `names` (the rows of train/list.txt) that form `split`.

    train / vottrain: rows not held out; val / votval: held-out rows; train_full: all rows.
    `vot_exclude` (sequence *names*, e.g. the official got10k_vot_exclude list) removes those sequences from
    vottrain / votval; names are matched as names, which avoids the off-by-one of the official id lists.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown GOT-10k split '{split}'; valid: {', '.join(SPLITS)}")
    n = len(names)
    if split == "train_full":
        ids = list(range(n))
    elif split in ("train", "vottrain"):
        ids = [i for i in range(n) if not _held_out(i)]
    else:
        ids = [i for i in range(n) if _held_out(i)]
    if split.startswith("vot") and vot_exclude:
        excluded = set(vot_exclude)
        ids = [i for i in ids if names[i] not in excluded]
    if not ids:
        raise ValueError(f"GOT-10k split '{split}' is empty for {n} sequences (held-out rows are those with "
                         f"id % {HELD_OUT_MODULUS} in {sorted(HELD_OUT_RESIDUES)})")
    return ids


def read_split_file(path: str | os.PathLike, num_sequences: int) -> list[int]:
    """Row ids from a split file: one non-negative integer per line, each < num_sequences."""
    ids = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        token = line.strip()
        if not token:
            continue
        if not token.isdigit():
            raise ValueError(f"{path}, line {number}: '{token}' is not a sequence id (non-negative integer)")
        value = int(token)
        if value >= num_sequences:
            raise ValueError(f"{path}, line {number}: id {value} out of range, list.txt has {num_sequences} rows")
        ids.append(value)
    if not ids:
        raise ValueError(f"{path}: empty split file")
    return ids


def read_name_list(path: str | os.PathLike) -> list[str]:
    names = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise ValueError(f"{path}: empty name list")
    return names
