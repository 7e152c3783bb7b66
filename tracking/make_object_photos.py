"""Write the training split of real object photographs (GOT-10k layout) that OBJECT_PHOTOS trains on.

    python tracking/make_object_photos.py --data_dir ./data --seed 0 --num_sequences 200 --num_frames 16

The split goes to <data_dir>/object_photos/train. Its content is the photographs among Tux Paint's stamps (Debian
package tuxpaint-stamps-default, installed by `bash install.sh --with-photos` when it can); without them, procedural objects. Every
frame is an independent view of one object among clutter and look-alikes (lib/synthetic/object_photos.py). The
first output line says which content was used. A rerun keeps the sequences already complete.
"""
import _init_paths  # noqa: F401  (puts the repository root on sys.path)

import argparse
import os
import sys
import time

from tqdm import tqdm

from lib.synthetic.object_photos import PATCH_SHARE, write_object_photo_split
from lib.utils.cli import run_main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default="./data", help="data root; the split goes to <data_dir>/object_photos")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_sequences", type=int, default=200)
    parser.add_argument("--num_frames", type=int, default=16, help="independent views per object")
    parser.add_argument("--patch_share", type=float, default=PATCH_SHARE,
                        help=f"share of box-shaped targets (pieces of a scene) instead of cut-out objects "
                             f"(default {PATCH_SHARE})")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    args = parser.parse_args(argv)
    if args.num_sequences < 1 or args.num_frames < 2 or not 0 <= args.patch_share <= 1:
        parser.error("--num_sequences must be >= 1, --num_frames >= 2 and --patch_share in [0, 1]")
    start = time.time()
    root = os.path.join(args.data_dir, "object_photos")
    source = write_object_photo_split(root, args.seed, args.num_sequences, args.num_frames, args.width, args.height,
                                      args.patch_share,
                                      progress=lambda items: tqdm(items, desc="objects", unit="seq", leave=False))
    print(f"training content: {source.description}")
    print(f"object photos: {args.num_sequences} sequences in {root} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
