"""Print speed figures of the synthetic generator and the training readers (not a test; run by hand):

    .venv/bin/python -m tests.benchmarks.bench_data_readers [--width 320 --height 240 --sequences 12 --frames 60]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from lib.synthetic import generate
from lib.train.dataset.got10k import Got10k
from lib.utils.file_source import LmdbSource, pack_folder_to_lmdb
from lib.utils.image_io import jpeg_backend


def _per_call(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--sequences", type=int, default=12)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "got10k"
        start = time.perf_counter()
        generate("got10k", root, seed=0, num_sequences=args.sequences, num_frames=args.frames,
                 width=args.width, height=args.height)
        seconds = time.perf_counter() - start
        total = (args.sequences + 2 * max(2, args.sequences // 4)) * args.frames
        print(f"generate got10k: {total / seconds:.0f} frames/s ({args.width}x{args.height}, JPEG q90)")
        pack_folder_to_lmdb(root, Path(tmp) / "got10k_lmdb")
        rng = np.random.default_rng(0)
        packed = LmdbSource(Path(tmp) / "got10k_lmdb").sub("train")
        for label, data in (("folder", Got10k(root / "train")), ("lmdb", Got10k(packed))):
            n = data.get_num_sequences()
            first = _per_call(lambda: [data._load_sequence_info(i) for i in range(n)], 1) / n
            for i in range(n):
                data.get_sequence_info(i)
            cached = _per_call(lambda: data.get_sequence_info(int(rng.integers(n))), 2000)
            frames = _per_call(lambda: data.get_frames(int(rng.integers(n)), [int(rng.integers(args.frames))]), 300)
            print(f"{label:6s}: parse annotations {first * 1e3:.2f} ms/sequence (once), "
                  f"get_sequence_info {cached * 1e6:.1f} us (cached), get_frames {frames * 1e3:.2f} ms/frame "
                  f"(decoder: {jpeg_backend()})")


if __name__ == "__main__":
    main()
