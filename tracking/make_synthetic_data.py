"""Write deterministic synthetic benchmarks in the official layouts under a data folder.

    python tracking/make_synthetic_data.py --data_dir ./data --benchmarks lasot got10k --seed 0

Each benchmark goes to <data_dir>/<benchmark> (the folder convention lib.utils.env resolves paths with). Sequences
are written atomically (temporary folder, then rename); a rerun skips the ones already complete, so an interrupted
run can simply be started again. Table benchmarks (uav, otb, nfs) take their lengths from the official tables.
--num_sequences sets each benchmark's main split; lasot also writes as many training sequences, got10k and
trackingnet a quarter of it (at least 2) in each further split; the multi-modal depthtrack, lasher and visevent write
as many training sequences as test ones (depthtrack and lasher also a quarter, at least 2, as val); the summary line
counts every split written.
"""
import _init_paths  # noqa: F401  (puts the repository root on sys.path)

import argparse
import sys
import time
from collections import Counter

from lib.synthetic import (BENCHMARKS, DATA_FOLDERS, DEFAULT_HEIGHT, DEFAULT_QUALITY, DEFAULT_SIZES, DEFAULT_WIDTH,
                           generate)
from lib.utils.cli import UserError, run_main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default="./data", help="data root; benchmark folders are created below it")
    parser.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS), choices=BENCHMARKS, metavar="NAME",
                        help=f"benchmarks to write (default: all): {' '.join(BENCHMARKS)}")
    parser.add_argument("--seed", type=int, default=0, help="default 0")
    parser.add_argument("--num_sequences", type=int, default=None,
                        help="sequences of each benchmark's main split (default per benchmark: "
                             + ", ".join(f"{b} {n}" for b, (n, _) in DEFAULT_SIZES.items())
                             + "); lasot adds as many training sequences, got10k and trackingnet a quarter (at "
                               "least 2) per further split")
    parser.add_argument("--num_frames", type=int, default=None,
                        help="frames per sequence (default per benchmark: "
                             + ", ".join(f"{b} {f}" for b, (_, f) in DEFAULT_SIZES.items() if f)
                             + "; uav, otb, nfs follow the official tables, coco images are single frames)")
    parser.add_argument("--width", type=int, default=DEFAULT_WIDTH, help=f"image width (default {DEFAULT_WIDTH})")
    parser.add_argument("--height", type=int, default=DEFAULT_HEIGHT,
                        help=f"image height (default {DEFAULT_HEIGHT})")
    parser.add_argument("--quality", type=int, default=DEFAULT_QUALITY, help=f"JPEG quality (default "
                                                                               f"{DEFAULT_QUALITY})")
    parser.add_argument("--natural_share", type=float, default=0.0,
                        help="share of sequences with natural-image statistics (dead leaves, 1/f textures; "
                             "targets and look-alikes cut from the same kind of image), default 0")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    for benchmark in args.benchmarks:
        start = time.time()
        root = f"{args.data_dir}/{DATA_FOLDERS[benchmark]}"
        try:
            truths = generate(benchmark, root, args.seed, num_sequences=args.num_sequences,
                              num_frames=args.num_frames, width=args.width, height=args.height,
                              quality=args.quality, progress=True, natural_share=args.natural_share)
        except ValueError as e:  # sizes out of range
            raise UserError(f"--num_sequences/--width/--height/--natural_share: {e}") from None
        splits = Counter(t.split for t in truths.values())
        print(f"{benchmark}: {len(truths)} sequences ({', '.join(f'{s} {n}' for s, n in splits.items())}) in "
              f"{root} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
