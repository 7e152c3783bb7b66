"""Train a tracker.

    python tracking/train.py --script stark_s --config baseline --save_dir . --mode single
    python tracking/train.py --script stark_st2 --config baseline --save_dir . --mode multiple --nproc_per_node 8 \
        --script_prv stark_st1 --config_prv baseline

`--mode multiple` launches torch.distributed.run (torchrun) without a shell and returns its exit code; multi-node
runs add --nnodes/--node_rank/--master_addr/--master_port. Extra config overrides: --opts KEY VALUE ...
The device, the config and the previous stage's, the datasets' folders and the checkpoints to start or resume from
are checked before any process starts (one `error:` line, not one per process); SIGTERM / SIGINT are passed on to
the training processes, and they stop when this launcher dies.
"""
import argparse
import os
import sys

import _init_paths  # noqa: F401

from lib.train import run_training
from lib.utils.cli import run_main
from lib.utils.process import run_child

WORKER = os.path.abspath(run_training.__file__)


def parse_args(argv=None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run_training.add_worker_arguments(parser)
    parser.add_argument("--mode", choices=["single", "multiple"], default="multiple")
    parser.add_argument("--nproc_per_node", type=int, default=1, help="processes (GPUs) per node")
    parser.add_argument("--nnodes", type=int, default=1)
    parser.add_argument("--node_rank", type=int, default=0)
    parser.add_argument("--master_addr", default=None)
    parser.add_argument("--master_port", type=int, default=None)
    parser.add_argument("--dry_run", action="store_true", help="print the launch command and exit")
    args = parser.parse_args(argv)
    return args, worker_argv(args)


def worker_argv(args: argparse.Namespace) -> list[str]:
    """The worker's arguments, passing on only what was given."""
    out = ["--script", args.script, "--config", args.config, "--use_lmdb", str(args.use_lmdb),
           "--use_wandb", str(args.use_wandb), "--resume", args.resume, "--seed", str(args.seed)]
    for name in ("save_dir", "data_dir", "script_prv", "config_prv", "device"):
        value = getattr(args, name)
        if value is not None:
            out += [f"--{name}", value]
    if args.opts:
        out += ["--opts", *args.opts]
    return out


def torchrun_command(args: argparse.Namespace, worker: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(args.nproc_per_node)]
    if args.nnodes == 1 and args.master_addr is None and args.master_port is None:
        cmd.append("--standalone")  # picks a free port, so parallel runs on one machine do not collide
    else:
        cmd += ["--nnodes", str(args.nnodes), "--node_rank", str(args.node_rank)]
        cmd += ["--master_addr", args.master_addr or "127.0.0.1", "--master_port", str(args.master_port or 29500)]
    return cmd + [WORKER, *worker]


def main(argv=None) -> int:
    args, worker = parse_args(argv)
    if args.mode == "single":
        command = [sys.executable, WORKER, *worker]
    else:
        command = torchrun_command(args, worker)
    if not args.dry_run:
        run_training.check_before_launch(args)
    print("launching: " + " ".join(command), flush=True)
    return 0 if args.dry_run else run_child(command)


if __name__ == "__main__":
    sys.exit(run_main(main))
