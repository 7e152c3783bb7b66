"""Deterministic synthetic tracking benchmarks in the official on-disk layouts.

    from lib.synthetic import generate, generate_all
    truth = generate("lasot", "data/lasot", seed=0, num_sequences=4, num_frames=120)
    everything = generate_all("data", seed=0)

`generate` returns, per sequence, a `SequenceTruth` (boxes as written, flags, true boxes) so tests can compare what
readers return. Sequences already on disk with identical annotations are skipped, so an interrupted run resumes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from lib.synthetic.writers import TABLE_BENCHMARKS, WRITERS, Plan, SequenceTruth

__all__ = ["BENCHMARKS", "DEFAULT_SIZES", "DATA_FOLDERS", "generate", "generate_all", "SequenceTruth"]

BENCHMARKS = tuple(WRITERS)

# (num_sequences, num_frames) per benchmark; frame counts of table benchmarks come from the official tables.
DEFAULT_SIZES: dict[str, tuple[int, Optional[int]]] = {
    "lasot": (6, 150),
    "lasot_extension_subset": (3, 100),
    "got10k": (24, 60),
    "trackingnet": (8, 60),
    "uav": (6, None),
    "otb": (7, None),
    "nfs": (4, None),
    "tnl2k": (4, 100),
    "coco": (24, None),
    "depthtrack": (4, 60),
    "vot_rgbd2022": (3, 60),
    "lasher": (4, 60),
    "rgbt234": (4, 60),
    "visevent": (4, 60),
}
DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_QUALITY = 320, 240, 90

# Folder of each benchmark under a data root (the convention lib.utils.env resolves paths with).
DATA_FOLDERS = {b: b for b in BENCHMARKS}


def _check_benchmark(benchmark: str) -> None:
    if benchmark not in WRITERS:
        raise ValueError(f"unknown benchmark '{benchmark}'; valid: {', '.join(BENCHMARKS)}")


def generate(benchmark: str, root: str | Path, seed: int = 0, *, num_sequences: Optional[int] = None,
             num_frames: Optional[int] = None, width: Optional[int] = None, height: Optional[int] = None,
             names: Optional[Iterable[str]] = None, quality: int = DEFAULT_QUALITY,
             progress: bool = False, natural_share: float = 0.0) -> dict[str, SequenceTruth]:
    """Write one benchmark under `root` (the folder the benchmark's readers take as root).

    `names` picks official sequence names (lasot, lasot_extension_subset, uav, otb, nfs); `num_frames` is ignored
    by the table benchmarks (uav, otb, nfs) whose lengths are fixed by the official tables. `natural_share` is the
    share of sequences drawn with natural-statistics content (lib/synthetic/natural.py) instead of the classic one.
    """
    _check_benchmark(benchmark)
    default_count, default_frames = DEFAULT_SIZES[benchmark]
    plan = Plan(
        seed=int(seed),
        num_sequences=int(num_sequences if num_sequences is not None else default_count),
        num_frames=None if benchmark in TABLE_BENCHMARKS else int(num_frames or default_frames or 1),
        width=int(width or DEFAULT_WIDTH),
        height=int(height or DEFAULT_HEIGHT),
        names=tuple(names) if names is not None else None,
        quality=int(quality),
        progress=progress,
        natural_share=float(natural_share),
    )
    if plan.num_sequences < 1 or plan.width < 16 or plan.height < 16 or not 0 <= plan.natural_share <= 1:
        raise ValueError(f"need num_sequences >= 1, images of at least 16x16 pixels and a natural share in "
                         f"[0, 1], got {plan}")
    return WRITERS[benchmark](Path(root), plan)


def generate_all(data_root: str | Path, seed: int = 0, benchmarks: Optional[Iterable[str]] = None,
                 **sizes) -> dict[str, dict[str, SequenceTruth]]:
    """Write several benchmarks under `data_root/<benchmark>` (all by default); `sizes` as for `generate`."""
    chosen = list(benchmarks) if benchmarks is not None else list(BENCHMARKS)
    for b in chosen:
        _check_benchmark(b)
    return {b: generate(b, Path(data_root) / DATA_FOLDERS[b], seed, **sizes) for b in chosen}
