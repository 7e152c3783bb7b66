"""Run a tracker on an evaluation dataset and write per-sequence result files.

    python tracking/test.py TRACKER CONFIG --dataset lasot --threads 32
    python tracking/test.py TRACKER CONFIG --dataset lasot --threads 16 --num_gpus 2
    python tracking/test.py --tracker_param CONFIG --dataset got10k_test --threads 8 --num_gpus 2
    python tracking/test.py opencv mil --dataset lasot          (baselines: opencv <algorithm>, hold default)

TRACKER is a registered tracker name; CONFIG an experiment of its training script
(experiments/<script>/CONFIG.yaml). With --tracker_param alone, the tracker is the one whose script has that
experiment, or NAME in a NAME-CONFIG form.

Finished sequences are skipped, so an interrupted run continues where it stopped. Exit code 1 if any
sequence failed, 2 (one `error:` line; --debug 1 shows the traceback) on a mistake in the command.
"""
from __future__ import annotations

import argparse
import os
import sys

import _init_paths  # noqa: F401  (puts the repository root on sys.path)

from lib.config.node import ConfigError
from lib.families import UnknownNameError, discover, experiment_path, get_tracker_family, list_trackers
from lib.utils.cli import UserError, run_main
from lib.utils.device import resolve_device


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tracker_name", nargs="?", help=f"registered tracker: {', '.join(list_trackers())}")
    parser.add_argument("tracker_param", nargs="?", help="config name (experiments/<script>/<name>.yaml)")
    parser.add_argument("--tracker_name", dest="tracker_name_opt", metavar="NAME",
                        help="same as the first positional argument")
    parser.add_argument("--tracker_param", dest="tracker_param_opt", metavar="CONFIG",
                        help="same as the second positional argument; alone, a config name whose tracker is "
                             "found from the registry")
    parser.add_argument("--dataset_name", "--dataset", dest="dataset_name", default="lasot",
                        help="evaluation dataset (default: lasot)")
    parser.add_argument("--data_dir", default=None,
                        help="data root holding the benchmark folders (lasot/, got10k/, ...; default: from env)")
    parser.add_argument("--only_present", action="store_true",
                        help="evaluate the sequences present on disk (a partial or synthetic copy of a benchmark)")
    parser.add_argument("--sequence", default=None, help="run one sequence only: its name or index")
    parser.add_argument("--runid", type=int, default=None, help="run number: results go to <config>_%%03d")
    parser.add_argument("--debug", type=int, default=0, help="> 0: stop at the first error, trackers may visualise")
    parser.add_argument("--threads", type=int, default=0, help="worker processes (0: run in this process)")
    parser.add_argument("--batch_sequences", type=int, default=1, metavar="N",
                        help="track N sequences in lockstep, one forward for their N search crops (default 1)")
    parser.add_argument("--num_gpus", type=int, default=None, help="GPUs to spread workers over (default: all)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available")
    parser.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32",
                        help="the network's search step under autocast in this precision (default fp32)")
    parser.add_argument("--cuda_graph", action="store_true",
                        help="replay each sequence's search step as a CUDA graph (--device cuda)")
    parser.add_argument("--checkpoint", default=None, help="weights file instead of the config's TEST.EPOCH one")
    parser.add_argument("--save_dir", default=None, help="folder holding checkpoints/ (default: from env)")
    parser.add_argument("--results_dir", default=None, help="results root (default: env results_path)")
    parser.add_argument("--opts", nargs="*", default=[], help="config overrides KEY VALUE ...")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing results made with another checkpoint or config")
    args = parser.parse_args(argv)
    if args.threads < 0 or (args.num_gpus is not None and args.num_gpus < 1):
        parser.error("--threads must be >= 0 and --num_gpus >= 1")
    if args.batch_sequences < 1 or (args.batch_sequences > 1 and args.threads > 0):
        parser.error("--batch_sequences must be >= 1, and > 1 only without --threads (it runs in this process)")
    name = args.tracker_name_opt or args.tracker_name
    param = args.tracker_param_opt or args.tracker_param
    if param is None and name is not None and args.tracker_name_opt is None:
        name, param = None, name  # `test.py --tracker_param X` style given positionally as `test.py X`
    if param is None:
        raise UserError("give a tracker and config: test.py TRACKER CONFIG, or --tracker_param CONFIG")
    args.tracker_name, args.tracker_param = resolve_tracker(name, param)
    return args


def resolve_tracker(name: str | None, param: str) -> tuple[str, str]:
    """(tracker, config) from the two names, or from the config name alone.

    Alone, `param` is looked up as an experiment file of every tracker's training script; failing that, a
    `NAME-config` form is split when NAME is a tracker name (any case).
    """
    if name is not None:
        get_tracker_family(name)
        return name, param
    if param in list_trackers():
        raise UnknownNameError(f"'{param}' is a tracker; give its config too: test.py {param} CONFIG")
    owners = []
    for family in discover().values():
        for tracker, script in family.trackers.items():
            if script and _has_experiment(script, param):
                owners.append(tracker)
    if len(owners) == 1:
        return owners[0], param
    if len(owners) > 1:
        raise UnknownNameError(f"config '{param}' exists for several trackers ({', '.join(sorted(owners))}); "
                               f"name the tracker: test.py TRACKER {param}")
    prefix, _, rest = param.partition("-")
    by_lower = {t.lower(): t for t in list_trackers()}
    if rest and prefix.lower() in by_lower:
        return by_lower[prefix.lower()], rest
    raise UnknownNameError(f"no tracker has a config named '{param}'; name the tracker: test.py TRACKER CONFIG "
                           f"(trackers: {', '.join(list_trackers())})")


def _has_experiment(script: str, config: str) -> bool:
    try:
        experiment_path(script, config)
    except ConfigError:
        return False
    return True


def select_sequences(dataset: list, sequence: str | None) -> list:
    if sequence is None:
        return dataset
    if sequence.isdigit():
        index = int(sequence)
        if index >= len(dataset):
            raise UnknownNameError(f"--sequence {index}: the dataset has {len(dataset)} sequences")
        return [dataset[index]]
    chosen = [seq for seq in dataset if seq.name == sequence]
    if not chosen:
        raise UnknownNameError(f"--sequence {sequence}: no such sequence in the dataset")
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from lib.test.evaluation import get_dataset
    from lib.test.evaluation.running import run_dataset
    from lib.test.evaluation.tracker import Tracker
    from lib.utils.env import env_settings

    device = resolve_device(args.device)
    num_gpus = args.num_gpus or max(torch.cuda.device_count(), 1)
    results_path = os.path.abspath(args.results_dir) if args.results_dir else None
    tracker = Tracker(args.tracker_name, args.tracker_param, args.dataset_name, args.runid,
                      results_path=results_path, checkpoint=args.checkpoint, device=device, debug=args.debug,
                      save_dir=args.save_dir, opts=args.opts, dtype=args.dtype, cuda_graph=args.cuda_graph)
    settings = env_settings(data_dir=args.data_dir) if args.data_dir else None
    dataset = get_dataset(args.dataset_name, only_present=args.only_present, settings=settings)
    dataset = select_sequences(list(dataset), args.sequence)
    step_options = "".join([f", {args.dtype}" if args.dtype != "fp32" else "",
                            ", CUDA graph" if args.cuda_graph else ""])
    print(f"{args.tracker_name} {args.tracker_param} on {args.dataset_name}: {len(dataset)} sequences, "
          f"device {device}{step_options}, {args.threads or 'no'} worker processes -> {tracker.results_dir}")
    summary = run_dataset(dataset, tracker, debug=args.debug, threads=args.threads, num_gpus=num_gpus,
                          progress=not args.no_progress, overwrite=args.overwrite,
                          batch_sequences=args.batch_sequences)
    fps = summary.tracking_fps()
    print(f"done {len(summary.done)}, skipped (already done) {len(summary.skipped)}, failed {len(summary.failed)}"
          + (f"; {fps:.1f} frames/s of tracker time" if fps is not None else ""))
    for outcome in summary.failed:
        print(f"  failed: {outcome.name}: {outcome.error.splitlines()[-1]}")
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(run_main(main))
