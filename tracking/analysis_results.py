"""Score tracking results on a dataset and write the report (table, CSV, LaTeX, plots).

    python tracking/analysis_results.py --dataset lasot \
        --tracker stark_st:baseline:STARK-ST50 --tracker ostrack:vitb_256_mae_ce_32x4_ep300 [--runs 0 1 2]
    python tracking/analysis_results.py    # LaSOT, every tracker with LaSOT results (OSTrack's script's dataset)

Results are read from `<results_path>/<script>/<config>[_<run:03d>]/<dataset tag>/<seq>.txt` (or the flat STARK
layout); the report goes to `<result_plot_path>/<report name>/`. See lib/test/analysis/README.md for the metrics.
"""
import argparse
import os
import sys

import _init_paths  # noqa: F401  (puts the repository root on sys.path)

from lib.families import UnknownNameError
from lib.test.analysis.extract import Evaluation, ScoringRules, evaluate
from lib.test.analysis.metrics import COMMUNITY_PROTOCOLS, GENERIC_OPE_PROTOCOLS, PROTOCOLS, InvalidResultsError
from lib.test.analysis.report import format_table, write_report
from lib.test.analysis.results import MissingResultsError, TrackerSpec, find_trackers
from lib.utils.cli import UserError, run_main
from lib.utils.env import env_settings


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="lasot",
                        help="dataset name for lib.test.evaluation.get_dataset (default: lasot)")
    parser.add_argument("--tracker", action="append", metavar="SCRIPT:CONFIG[:NAME]",
                        help="a tracker to report (repeatable; default: every results folder <script>/<config> "
                             "with results for the dataset)")
    parser.add_argument("--runs", type=int, nargs="+", help="run ids to average (result folders <config>_NNN)")
    parser.add_argument("--sequences", nargs="+", help="only these sequences")
    parser.add_argument("--data_dir", help="data root holding the benchmark folders (default: from env)")
    parser.add_argument("--only_present", action="store_true",
                        help="evaluate the sequences present in a partial copy of the dataset (e.g. synthetic data)")
    parser.add_argument("--results_dir", help="results root (default: env_settings().results_path)")
    parser.add_argument("--plot_dir", help="report root (default: env_settings().result_plot_path)")
    parser.add_argument("--report_name", help="report sub-folder and table title (default: the dataset name)")
    parser.add_argument("--skip_missing", action="store_true",
                        help="report over the sequences every tracker has results for instead of failing")
    parser.add_argument("--protocol", choices=list(PROTOCOLS),
                        help="the reference whose rules and numbers to reproduce: "
                             + "; ".join(f"{p.name}: {p.reference}" for p in PROTOCOLS.values())
                             + ". Default: the dataset's own: got10k for GOT-10k, "
                             + ", ".join(f"{p} for {d}" for d, p in COMMUNITY_PROTOCOLS.items())
                             + ", stark otherwise. The multi-modal datasets take their own protocol only (LasHeR, "
                               f"RGBT234 and VisEvent also {'/'.join(GENERIC_OPE_PROTOCOLS)}); vot_longterm needs "
                               "each result's <seq>_outputs.txt with a 'confidence' column (see "
                               "lib/test/analysis/README.md)")
    parser.add_argument("--exclude_invalid", action="store_true",
                        help="pytracking/stark protocols: leave invalid/absent frames out of the denominators "
                             "(pytracking's exclude_invalid_frames)")
    parser.add_argument("--got10k_sequence_mean", action="store_true",
                        help="GOT-10k AO/SR as the mean over sequences (default: pooled over frames, as the got10k "
                             "toolkit reports them)")
    parser.add_argument("--force", action="store_true", help="ignore the score cache and redraw the plots")
    parser.add_argument("--no_plots", action="store_true", help="tables only")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser.parse_args(argv)


def _select(dataset, names):
    if not names:
        return list(dataset)
    by_name = {seq.name: seq for seq in dataset}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UnknownNameError(f"--sequences: unknown sequences {unknown} (the dataset has {len(by_name)})")
    return [by_name[n] for n in names]


def _trackers_with_results(results_path: str, sequences: list, args: argparse.Namespace) -> list[TrackerSpec]:
    """No --tracker: every results folder with results for the dataset, said in one line."""
    if args.runs:
        raise UserError("--runs needs --tracker (without it every run folder is a row of its own)")
    found = find_trackers(results_path, sequences)
    if not found:
        raise MissingResultsError(f"no results for {args.dataset} under {results_path} (looked for <script>/<config>/"
                                  f"[<dataset>/]<seq>.txt): run tracking/test.py first, or pass --results_dir")
    print(f"no --tracker: reporting the {len(found)} results folders with {args.dataset} results under "
          f"{results_path}: {', '.join(f'{t.script}:{t.config}' for t in found)}")
    return found


def main(argv=None, dataset_loader=None) -> int:
    """`dataset_loader(name)` returns the sequences (default: lib.test.evaluation.get_dataset)."""
    args = parse_args(argv)
    trackers = [TrackerSpec.parse(t, args.runs) for t in args.tracker or ()]
    try:
        rules = ScoringRules(args.protocol, args.exclude_invalid)
    except ValueError as e:
        raise UserError(f"--exclude_invalid: {e}") from None
    settings = env_settings(data_dir=args.data_dir)
    results_path = args.results_dir or settings.results_path
    plot_root = args.plot_dir or settings.result_plot_path

    if dataset_loader is None:
        from lib.test.evaluation import get_dataset
        sequences = get_dataset(args.dataset, only_present=args.only_present, settings=settings)
    else:
        sequences = dataset_loader(args.dataset)
    sequences = _select(sequences, args.sequences)
    if not trackers:
        trackers = _trackers_with_results(results_path, sequences, args)
    report_name = args.report_name or args.dataset
    try:
        evaluation = evaluate(trackers, sequences, results_path, rules,
                              cache_dir=os.path.join(plot_root, "cache", args.dataset), force=args.force,
                              skip_missing=args.skip_missing)
    except InvalidResultsError as e:  # a broken result file, not a mistake in the command
        print(f"error: {e}", file=sys.stderr)
        return 1
    if isinstance(evaluation, Evaluation):
        evaluation.got10k_frame_weighted = not args.got10k_sequence_mean
    print(format_table(evaluation, report_name))
    out_dir = os.path.join(plot_root, report_name)
    written = write_report(evaluation, out_dir, report_name, plots=not args.no_plots, force=args.force)
    print(f"report written to {out_dir} ({', '.join(sorted(os.path.basename(p) for p in written.values()))})")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
