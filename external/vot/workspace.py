"""Write a VOT toolkit workspace, and register TrackZoo trackers in it (no sed, no hand-edited paths).

    python -m external.vot.workspace create W --synthetic [--num_sequences 3 --num_frames 60] [--channels color,depth]
    python -m external.vot.workspace create W --from_dataset lasot          (sequences of a benchmark on disk)
    python -m external.vot.workspace create W --stack vot2022/shorttermbox   (the toolkit downloads the sequences)
    python -m external.vot.workspace add W --tracker stark_st --param baseline --checkpoint FILE [--device cuda]

`create` writes W/config.yaml, an empty W/trackers.ini and, for converted sequences, W/sequences/ in the VOT format
(external/vot/sequences.py). Converted sequences run on the offline stack `stack.yaml` written next to them (a
multistart experiment scored by EAO and accuracy/robustness, and an unsupervised one scored by accuracy and the
long-term precision / recall / F-score) unless --stack names another; with `sequences/list.txt` present the toolkit
downloads nothing. `add` writes one trackers.ini section that starts external/vot/server.py with this interpreter
and this checkout. Then: python -m external.vot.toolkit evaluate --workspace W <tracker id>.
"""
from __future__ import annotations

import argparse
import configparser
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence as Seq

import yaml

from external.vot.sequences import DEFAULT_ANCHOR_SPACING, write_sequences
from external.vot.server import parse_channels
from lib.utils.cli import UserError, run_main
from lib.utils.io import atomic_write_text

REPO = Path(__file__).resolve().parents[2]
OFFLINE_STACK = "stack.yaml"
# Share of the longest sequence where the EAO interval starts (VOT2022: 115 of 755 frames).
EAO_LOW_SHARE = 0.15
DEFAULT_TIMEOUT_S = 300


def offline_stack(lengths: Seq[int]) -> dict:
    """The stack converted sequences run on: VOT's short-term (multistart) and long-term (unsupervised) protocols,
    with the EAO interval scaled to these sequence lengths."""
    high = max(lengths)
    low = min(max(1, round(EAO_LOW_SHARE * high)), high - 1)
    return {
        "title": "TrackZoo sequences, VOT protocols (offline)",
        "experiments": {
            "baseline": {"type": "multistart", "analyses": [
                {"type": "multistart_eao_score", "name": "eaoscore", "low": low, "high": high},
                {"type": "multistart_eao_curve", "name": "eaocurve", "high": high},
                {"type": "multistart_average_ar", "name": "ar"}]},
            "unsupervised": {"type": "unsupervised", "repetitions": 1, "analyses": [
                {"type": "average_accuracy", "name": "accuracy", "burnin": 1},
                {"type": "average_tpr", "name": "average_tpr"},
                {"type": "pr_curve", "name": "pr_curve"},
                {"type": "f_curve", "name": "f_curve"}]},
        },
    }


def synthetic_sequences(args: argparse.Namespace, scratch: Path) -> list:
    """Generate the synthetic LaSOT-layout benchmark under `scratch` and read it back as evaluation sequences."""
    from lib.synthetic import generate
    from lib.test.evaluation.readers import LaSOTDataset

    generate("lasot", scratch, seed=args.seed, num_sequences=args.num_sequences, num_frames=args.num_frames,
             width=args.width, height=args.height)
    return list(LaSOTDataset(str(scratch), only_present=True).get_sequence_list())


def dataset_sequences(name: str) -> list:
    from lib.test.evaluation import get_dataset

    try:
        return list(get_dataset(name, only_present=True))
    except KeyError as e:
        raise UserError(f"--from_dataset: {e.args[0]}") from None


def write_converted(args: argparse.Namespace, root: Path, channels: Seq[str]) -> list[int]:
    """Write the --synthetic or --from_dataset sequences under `root`; returns their lengths."""
    try:
        if args.from_dataset:
            return write_sequences(dataset_sequences(args.from_dataset), root, channels, args.anchor_spacing)
        with tempfile.TemporaryDirectory(prefix="vot-synthetic-") as scratch:
            return write_sequences(synthetic_sequences(args, Path(scratch)), root, channels, args.anchor_spacing)
    except ValueError as e:  # no sequences, or one whose first frame shows no target
        raise UserError(f"--{'from_dataset' if args.from_dataset else 'synthetic'}: {e}") from None


def create(args: argparse.Namespace) -> None:
    workspace = Path(args.workspace).resolve()
    config = workspace / "config.yaml"
    if config.exists() and not args.force:
        raise UserError(f"{config} exists; pass --force to rewrite the workspace")
    converted = args.synthetic or args.from_dataset
    if not converted and not args.stack:
        raise UserError("give --stack (a toolkit stack, e.g. vot2022/shorttermbox), --synthetic or "
                        "--from_dataset NAME")
    channels = parse_channels(args.channels)
    stack = args.stack
    if converted:
        lengths = write_converted(args, workspace / "sequences", channels)
        if stack is None:
            stack = OFFLINE_STACK
            atomic_write_text(str(workspace / OFFLINE_STACK), yaml.safe_dump(offline_stack(lengths), sort_keys=False))
        print(f"{len(lengths)} sequences ({', '.join(channels)}) written to {workspace / 'sequences'}")
    atomic_write_text(str(config), yaml.safe_dump({"registry": ["./trackers.ini"], "stack": stack,
                                                   "sequences": "sequences"}, sort_keys=False))
    if not (workspace / "trackers.ini").exists():
        atomic_write_text(str(workspace / "trackers.ini"), "")
    print(f"workspace {workspace} (stack {stack}); add a tracker: python -m external.vot.workspace add {workspace} "
          f"--tracker NAME --param CONFIG")


def workspace_channels(workspace: Path) -> str:
    """The channels the workspace's sequences have (the first sequence's `sequence` file), else colour only."""
    listing = workspace / "sequences" / "list.txt"
    if listing.exists():
        first = listing.read_text(encoding="utf-8").splitlines()[:1]
        meta = workspace / "sequences" / first[0] / "sequence" if first else None
        if meta is not None and meta.exists():
            keys = [line.split("=", 1)[0] for line in meta.read_text(encoding="utf-8").splitlines()]
            found = [k[len("channels."):] for k in keys if k.startswith("channels.")]
            if "color" in found:
                return ",".join(found)
    return "color"


def server_arguments(args: argparse.Namespace, channels: str) -> list[str]:
    argv = ["--tracker", args.tracker, "--param", args.param, "--channels", channels]
    for flag, path in (("--checkpoint", args.checkpoint), ("--save_dir", args.save_dir)):
        if path is not None:
            argv += [flag, os.path.abspath(path)]
    if args.device is not None:
        argv += ["--device", args.device]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    if args.opts:
        argv += ["--opts", *args.opts]
    return argv


def tracker_section(args: argparse.Namespace, channels: str) -> dict[str, str]:
    """A traxpython entry: the toolkit runs `python -c "<command>"` with `paths` on PYTHONPATH."""
    command = f"from external.vot.server import run; run({server_arguments(args, channels)!r})"
    return {"label": f"{args.tracker} {args.param}", "protocol": "traxpython", "command": command,
            "paths": str(REPO), "python": args.python, "timeout": str(args.timeout)}


def add(args: argparse.Namespace) -> None:
    from lib.families import get_tracker_family

    workspace = Path(args.workspace).resolve()
    if not (workspace / "config.yaml").exists():
        raise UserError(f"{workspace} is not a workspace (no config.yaml); run `create` first")
    get_tracker_family(args.tracker)  # an unknown name fails here, listing the valid ones
    if args.checkpoint is not None and not os.path.isfile(args.checkpoint):
        raise UserError(f"--checkpoint {args.checkpoint}: no such file")
    channels = ",".join(parse_channels(args.channels or workspace_channels(workspace)))
    identifier = args.name or f"{args.tracker}_{args.param}"
    registry = configparser.ConfigParser()
    registry.read(workspace / "trackers.ini", encoding="utf-8")
    try:
        registry[identifier] = tracker_section(args, channels)
    except ValueError as e:  # configparser rejects '%' (the toolkit reads the file with interpolation)
        raise UserError(f"cannot write trackers.ini: {e}") from None
    text = io.StringIO()
    registry.write(text)
    atomic_write_text(str(workspace / "trackers.ini"), text.getvalue())
    print(f"tracker '{identifier}' ({channels}) registered in {workspace / 'trackers.ini'}; run it: "
          f"python -m external.vot.toolkit evaluate --workspace {workspace} {identifier}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("create", help="write config.yaml, trackers.ini and (optionally) VOT sequences")
    make.add_argument("workspace", help="workspace folder (created)")
    make.add_argument("--stack", default=None, help="toolkit stack name or yaml path (default with converted "
                                                    "sequences: the offline stack written as stack.yaml)")
    source = make.add_mutually_exclusive_group()
    source.add_argument("--synthetic", action="store_true", help="generate synthetic sequences (LaSOT layout)")
    source.add_argument("--from_dataset", default=None, metavar="NAME",
                        help="convert the sequences of an evaluation dataset on disk (e.g. lasot, got10k_val)")
    make.add_argument("--channels", default="color", help="channels to write: color[,depth][,ir]")
    make.add_argument("--num_sequences", type=int, default=3, help="--synthetic: number of sequences")
    make.add_argument("--num_frames", type=int, default=60, help="--synthetic: frames per sequence")
    make.add_argument("--width", type=int, default=None, help="--synthetic: image width (default 320)")
    make.add_argument("--height", type=int, default=None, help="--synthetic: image height (default 240)")
    make.add_argument("--seed", type=int, default=0, help="--synthetic: generator seed")
    make.add_argument("--anchor_spacing", type=int, default=DEFAULT_ANCHOR_SPACING,
                      help="frames between multistart anchors")
    make.add_argument("--force", action="store_true", help="rewrite an existing workspace's config and sequences")
    reg = commands.add_parser("add", help="register a tracker in the workspace's trackers.ini")
    reg.add_argument("workspace")
    reg.add_argument("--tracker", required=True, help="registered tracker name (stark_st, ostrack, hold, opencv, ...)")
    reg.add_argument("--param", required=True, help="config name, or the baseline's option (hold: default, "
                                                    "opencv: mil)")
    reg.add_argument("--name", default=None, help="tracker id in the toolkit (default TRACKER_PARAM)")
    reg.add_argument("--checkpoint", default=None, help="weights file (default: the config's TEST.EPOCH one)")
    reg.add_argument("--save_dir", default=None, help="folder holding checkpoints/ (default: from env)")
    reg.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available")
    reg.add_argument("--threads", type=int, default=0, help="CPU threads of the tracker's torch (0: its default)")
    reg.add_argument("--channels", default=None, help="channels the server asks for (default: those of the "
                                                      "workspace's sequences, else color)")
    reg.add_argument("--python", default=sys.executable, help="interpreter the toolkit starts the server with "
                                                              "(default: this one)")
    reg.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S,
                     help="seconds the toolkit waits for one answer (the first includes loading the model)")
    reg.add_argument("--opts", nargs="*", default=[], help="config overrides KEY VALUE ...")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    {"create": create, "add": add}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
