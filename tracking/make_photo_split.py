"""Write the held-out real-content evaluation split: objects cut from real photographs over other photographs.

    python tracking/make_photo_split.py --data_dir ./data --seed 0 --num_sequences 12 --num_frames 150

The split goes to <data_dir>/tnl2k in the TNL2K layout (score it with `test.py ... --dataset tnl2k`). It uses only
the photographs bundled with scikit-image and matplotlib, which TrackZoo reserves for evaluation, and a motion model
of its own (lib/synthetic/photo_split.py), so a tracker trained on the synthetic generator is judged on content it
was not made from. A rerun keeps the sequences already complete.

    python tracking/make_photo_split.py --data_dir ./camera_data --camera --num_sequences 12 --num_frames 100

writes a check built another way: a textured region of a still photo followed while the camera pans, zooms and
rolls over the scene (nothing pasted, the box around the region's rotated corners).
"""
import _init_paths  # noqa: F401  (puts the repository root on sys.path)

import argparse
import os
import sys
import time

from tqdm import tqdm

from lib.synthetic.photo_split import write_photo_split
from lib.utils.cli import run_main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default="./data", help="data root; the split goes to <data_dir>/tnl2k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_sequences", type=int, default=12, help="sequences (the first third easy)")
    parser.add_argument("--num_frames", type=int, default=150)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--camera", action="store_true",
                        help="the other construction: a textured region of a still photo followed while the camera "
                             "pans, zooms and rolls (nothing pasted); sequences camera_001, ...")
    args = parser.parse_args(argv)
    if args.num_sequences < 1 or args.num_frames < 2:
        parser.error("--num_sequences must be >= 1 and --num_frames >= 2")
    start = time.time()
    root = os.path.join(args.data_dir, "tnl2k")
    names = write_photo_split(root, args.seed, args.num_sequences, args.num_frames, args.width, args.height,
                              progress=lambda items: tqdm(items, desc="photos", unit="seq", leave=False),
                              camera=args.camera)
    print(f"photo split: {len(names)} sequences in {root} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
