"""Parameters, MACs/FLOPs and speed of one tracking step of a training script's model.

    python tracking/profile_model.py --script SCRIPT --config CONFIG --device cuda
    python tracking/profile_model.py --script SCRIPT --config CONFIG --dtype fp16 --json out.json

The model is built for inference and put in eval(); its inputs are random tensors at the config's test sizes
(the family's dummy_inputs). Latency is the median over up to --runs timed steps after up to --warmup untimed
ones, with CUDA synchronised around each; timing stops when --time_budget seconds are spent (so a default run
ends within about a minute on a CPU), and the report gives the number of runs timed.
"""
from __future__ import annotations

import argparse
import json
import sys

import _init_paths  # noqa: F401  (puts the repository root on sys.path)

from lib.families import list_scripts
from lib.test.tracker.profile import profile_script
from lib.utils.cli import UserError, run_main
from lib.utils.device import resolve_device
from lib.utils.io import atomic_write_text
from lib.utils.profiling import DTYPES, format_report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", required=True, help=f"training script: {', '.join(list_scripts())}")
    parser.add_argument("--config", required=True, help="experiment name (experiments/<script>/<config>.yaml)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available")
    parser.add_argument("--dtype", choices=list(DTYPES), default="fp32", help="fp16/bf16 run under autocast")
    parser.add_argument("--runs", type=int, default=100, help="most timed runs (default 100)")
    parser.add_argument("--warmup", type=int, default=20, help="most untimed warm-up runs (default 20)")
    parser.add_argument("--time_budget", type=float, default=10.0,
                        help="seconds of timed runs at most, warm-up a fifth of it (default 10; 0: no limit)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--opts", nargs="*", default=[], help="config overrides KEY VALUE ...")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.time_budget < 0:
        raise UserError("--runs must be >= 1, --warmup and --time_budget >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = resolve_device(args.device)
    result = profile_script(args.script, args.config, device, args.dtype, args.runs, args.warmup, args.opts,
                            budget_s=args.time_budget or None, progress=lambda line: print(f"... {line}", flush=True))
    print(format_report(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
