"""Write lib/train/admin/local.py and lib/test/evaluation/local.py from a workspace, data and save folder.

    python tracking/create_default_local_file.py --workspace_dir . --data_dir ./data --save_dir ./output

Optional: TrackZoo also resolves every path from the folder convention and TRACKZOO_* environment variables.
"""
from __future__ import annotations

import argparse
import sys

import _init_paths  # noqa: F401

from lib.families import discover
from lib.utils.cli import UserError, run_main
from lib.utils.env import REPO_ROOT
from lib.utils.local_files import create_default_local_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace_dir", required=True, help="where tensorboard logs go")
    parser.add_argument("--data_dir", required=True, help="data root holding lasot/, got10k/, coco/ ...")
    parser.add_argument("--save_dir", required=True, help="where checkpoints and test results go")
    parser.add_argument("--root", default=REPO_ROOT, help="repository root to write the files under")
    parser.add_argument("--force", action="store_true", help="overwrite existing local.py files")
    args = parser.parse_args(argv)
    discover()  # families declare their own dataset path fields when imported; the files list them too
    try:
        paths = create_default_local_files(args.workspace_dir, args.data_dir, args.save_dir, args.root, args.force)
    except FileExistsError as e:  # the message names --force
        raise UserError(str(e)) from None
    print("wrote " + " and ".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
