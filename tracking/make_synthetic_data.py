"""Write deterministic synthetic benchmarks in the official layouts under a data folder.

    python tracking/make_synthetic_data.py --data_dir ./data --benchmarks lasot got10k --seed 0

Each benchmark goes to <data_dir>/<benchmark> (the folder convention lib.utils.env resolves paths with). Sequences
are written atomically (temporary folder, then rename); a rerun skips the ones already complete, so an interrupted
run can simply be started again. Table benchmarks (uav, otb, nfs) take their lengths from the official tables.
"""
import _init_paths  # noqa: F401  (puts the repository root on sys.path)

import argparse
import sys
import time

from lib.synthetic import BENCHMARKS, DATA_FOLDERS, DEFAULT_SIZES, generate


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default="./data", help="data root; benchmark folders are created below it")
    parser.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS), choices=BENCHMARKS, metavar="NAME",
                        help=f"benchmarks to write (default: all): {' '.join(BENCHMARKS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_sequences", type=int, default=None,
                        help="sequences per benchmark (default per benchmark: "
                             + ", ".join(f"{b} {n}" for b, (n, _) in DEFAULT_SIZES.items()) + ")")
    parser.add_argument("--num_frames", type=int, default=None,
                        help="frames per sequence (ignored by uav, otb, nfs, coco)")
    parser.add_argument("--width", type=int, default=None, help="image width (default 320)")
    parser.add_argument("--height", type=int, default=None, help="image height (default 240)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality")
    parser.add_argument("--natural_share", type=float, default=0.0,
                        help="share of sequences with natural-image statistics (dead leaves, 1/f textures; "
                             "targets and look-alikes cut from the same kind of image), default 0")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    for benchmark in args.benchmarks:
        start = time.time()
        root = f"{args.data_dir}/{DATA_FOLDERS[benchmark]}"
        truths = generate(benchmark, root, args.seed, num_sequences=args.num_sequences,
                          num_frames=args.num_frames, width=args.width, height=args.height,
                          quality=args.quality, progress=True, natural_share=args.natural_share)
        print(f"{benchmark}: {len(truths)} sequences in {root} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
