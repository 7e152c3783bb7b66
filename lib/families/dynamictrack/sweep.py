"""Speed/accuracy sweep over DynamicTrack's router threshold: run the tracker at each threshold on a dataset,
score the runs, and write a table (sweep.md, sweep.csv) and a plot (sweep.png: AUC (AO on GOT-10k) against FPS,
and the heavy-route fraction against the threshold).

    python -m lib.families.dynamictrack.sweep --config baseline_step2 --dataset lasot [--checkpoint FILE]

Threshold t runs as run id round(100 t) (results in `<config>_050` for 0.5 ...), so the runs stay apart and
tracking/analysis_results.py reads them too; finished sequences are skipped on a rerun. The heavy-route fraction
counts tracked frames (the first frame only initialises) from each sequence's `<seq>_outputs.txt`.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import sys

import numpy as np

from lib.utils.cli import UserError, run_main

TRACKER = "dynamictrack"
DEFAULT_THRESHOLDS = (0.0, 0.25, 0.5, 0.75, 1.0)
COLUMNS = ("threshold", "score", "FPS", "heavy_fraction", "frames")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lib.families.dynamictrack.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="experiment of the dynamictrack script with a router")
    parser.add_argument("--dataset", default="lasot", help="evaluation dataset (default: lasot)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(DEFAULT_THRESHOLDS),
                        help="router thresholds in [0, 1] (default: 0 0.25 0.5 0.75 1)")
    parser.add_argument("--checkpoint", default=None, help="weights file instead of the config's TEST.EPOCH one")
    parser.add_argument("--save_dir", default=None, help="folder holding checkpoints/ (default: from env)")
    parser.add_argument("--results_dir", default=None, help="results root (default: env results_path)")
    parser.add_argument("--out", default=None, help="folder for the table and plot (default: "
                                                    "<result_plot_path>/dynamictrack_sweep_<config>_<dataset>)")
    parser.add_argument("--only_present", action="store_true", help="the sequences present on disk")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available")
    parser.add_argument("--threads", type=int, default=0, help="worker processes (0: run in this process)")
    parser.add_argument("--overwrite", action="store_true", help="replace results of another checkpoint")
    parser.add_argument("--opts", nargs="*", default=[], help="further config overrides KEY VALUE ...")
    args = parser.parse_args(argv)
    bad = [t for t in args.thresholds if not 0.0 <= t <= 1.0]
    if bad:
        raise UserError(f"--thresholds: {bad} outside [0, 1]")
    if len({run_id(t) for t in args.thresholds}) != len(args.thresholds):
        raise UserError(f"--thresholds: {args.thresholds} repeat a value at 0.01 resolution")
    return args


def run_id(threshold: float) -> int:
    return int(round(100 * threshold))


def heavy_fraction(results_dirs: list[str]) -> tuple[float, int]:
    """(fraction of tracked frames on the heavy route, tracked frames) over every `<seq>_outputs.txt`."""
    routes = []
    for folder in results_dirs:
        for root, _, files in os.walk(folder):
            for name in sorted(f for f in files if f.endswith("_outputs.txt")):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    header = f.readline().split()
                    table = np.loadtxt(f, ndmin=2)
                routes.append(table[1:, header.index("heavy_route")])
    frames = np.concatenate(routes) if routes else np.zeros(0)
    return (float(frames.mean()) if frames.size else float("nan")), int(frames.size)


def write_table(rows: list[dict], out_dir: str, score_name: str) -> list[str]:
    from lib.utils.io import atomic_write_text

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    lines = [f"| threshold | {score_name} | FPS | heavy-route fraction | frames |", "|---|---|---|---|---|"]
    lines += [f"| {r['threshold']:.2f} | {r['score']:.2f} | {r['FPS']:.2f} | {r['heavy_fraction']:.3f} | "
              f"{r['frames']} |" for r in rows]
    paths = [os.path.join(out_dir, "sweep.csv"), os.path.join(out_dir, "sweep.md")]
    atomic_write_text(paths[0], buffer.getvalue())
    atomic_write_text(paths[1], "\n".join(lines) + "\n")
    return paths


def write_plot(rows: list[dict], out_dir: str, score_name: str, title: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from lib.utils.io import atomic_save

    figure = Figure(figsize=(10.0, 4.5), layout="constrained")
    speed, routes = figure.subplots(1, 2)
    speed.plot([r["FPS"] for r in rows], [r["score"] for r in rows], marker="o")
    for r in rows:
        speed.annotate(f"{r['threshold']:g}", (r["FPS"], r["score"]), textcoords="offset points", xytext=(4, 4))
    speed.set(title=f"{title}: {score_name} against speed", xlabel="FPS", ylabel=f"{score_name} [%]")
    routes.plot([r["threshold"] for r in rows], [r["heavy_fraction"] for r in rows], marker="o")
    routes.set(title="Heavy route (score < threshold)", xlabel="router threshold",
               ylabel="fraction of frames on the heavy route", xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    for ax in (speed, routes):
        ax.grid(True, linestyle=":")
    path = os.path.join(out_dir, "sweep.png")
    atomic_save(path, lambda f: figure.savefig(f, format="png", dpi=100))
    return path


def score_rows(args: argparse.Namespace, thresholds: list[float], results_dirs: list[str], sequences: list,
               results_path: str) -> tuple[list[dict], str]:
    """One table row per threshold from the finished runs, and the name of the score (AUC, or AO on GOT-10k)."""
    from lib.test.analysis.extract import evaluate
    from lib.test.analysis.results import TrackerSpec

    specs = [TrackerSpec(TRACKER, args.config, (run_id(t),), f"threshold {t:g}") for t in thresholds]
    scores = evaluate(specs, sequences, results_path).scores()
    score_name = "AUC" if "AUC" in scores[0] else "AO"
    rows = []
    for t, folder, score in zip(thresholds, results_dirs, scores):
        fraction, frames = heavy_fraction([folder])
        rows.append({"threshold": t, "score": score[score_name], "FPS": score["FPS"], "heavy_fraction": fraction,
                     "frames": frames})
    return rows, score_name


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from lib.families import load_config
    from lib.test.evaluation import get_dataset
    from lib.test.evaluation.running import run_dataset
    from lib.test.evaluation.tracker import Tracker
    from lib.utils.device import resolve_device
    from lib.utils.env import env_settings

    device = resolve_device(args.device)
    if load_config(TRACKER, args.config, args.opts).MODEL.BACKBONE.Dynamic is not True:
        raise UserError(f"--config {args.config}: MODEL.BACKBONE.Dynamic is false (no router to sweep); use a "
                        f"step-2 config")
    settings = env_settings()
    results_path = os.path.abspath(args.results_dir) if args.results_dir else settings.results_path
    thresholds = sorted(args.thresholds)
    trackers = [Tracker(TRACKER, args.config, args.dataset, run_id(t), results_path=results_path,
                        checkpoint=args.checkpoint, device=device, save_dir=args.save_dir,
                        opts=[*args.opts, "TEST.ROUTER_THRESHOLD", repr(t)]) for t in thresholds]
    sequences = list(get_dataset(args.dataset, only_present=args.only_present))
    summary = run_dataset(sequences, trackers, threads=args.threads, num_gpus=max(torch.cuda.device_count(), 1),
                          progress=False, overwrite=args.overwrite)
    for outcome in summary.failed:
        print(f"failed: {outcome.name}: {outcome.error.splitlines()[-1]}")
    if not summary.ok:
        return 1
    rows, score_name = score_rows(args, thresholds, [t.results_dir for t in trackers], sequences, results_path)
    out_dir = args.out or os.path.join(settings.result_plot_path, f"dynamictrack_sweep_{args.config}_{args.dataset}")
    os.makedirs(out_dir, exist_ok=True)
    written = write_table(rows, out_dir, score_name) + [write_plot(rows, out_dir, score_name, args.dataset)]
    with open(written[1], encoding="utf-8") as f:
        print(f.read(), end="")
    print("wrote " + ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
