"""Pack a dataset folder into an LMDB database (key = relative file path, value = the file's bytes).

    python tracking/pack_lmdb.py --src ./data/got10k --dst ./data/got10k_lmdb

Readers opened with use_lmdb read the same files from the pack. Pack the folders the catalogs expect:
lasot -> lasot_lmdb, the whole GOT-10k root (train/, val/, test/) -> got10k_lmdb, trackingnet -> trackingnet_lmdb,
coco -> coco_lmdb. The pack is written to a temporary folder and renamed when complete.
"""
import _init_paths  # noqa: F401  (puts the repository root on sys.path)

import argparse
import sys

from lib.utils.cli import UserError, run_main
from lib.utils.file_source import pack_folder_to_lmdb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", required=True, help="dataset folder to pack")
    parser.add_argument("--dst", required=True, help="LMDB folder to create (must not exist)")
    args = parser.parse_args(argv)
    try:
        count = pack_folder_to_lmdb(args.src, args.dst, progress=True)
    except FileNotFoundError as e:
        raise UserError(f"--src: {e}") from None
    except FileExistsError as e:
        raise UserError(f"--dst: {e}") from None
    print(f"packed {count} files from {args.src} into {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
