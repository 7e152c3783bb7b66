"""Time `tracking/analysis_results.py` end to end on a LaSOT-size result set (280 sequences x 2,500 frames, two
trackers, five zero-size boxes per sequence), interpreter start-up included.

    .venv/bin/python -m tests.benchmarks.bench_analysis [--frames 2500] [--repeat 3] [--keep DIR]

Writes a LaSOT-layout ground truth (the 280 official test names, no images but the first/last frame files the
reader checks) and runner-format results (TAB, %.4f boxes, %.6f times) into a temporary folder, then runs the
command line in fresh interpreters: cold (no score cache), warm (cache), and both again with plots. Prints wall
time and the child's CPU time (the machine is shared: CPU time is the steadier figure) and the load average.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from lib.test.evaluation.benchmark_tables import lasot_test_names

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _write_rows(path: str, rows: np.ndarray, fmt: str, delimiter: str) -> None:
    line = delimiter.join([fmt] * rows.shape[1])
    with open(path, "w") as f:
        f.write("\n".join(line % tuple(r) for r in rows.tolist()) + "\n")


def make_dataset(root: str, frames: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    gts = {}
    for name in lasot_test_names():
        folder = os.path.join(root, "lasot", name.rsplit("-", 1)[0], name)
        os.makedirs(os.path.join(folder, "img"))
        xy = 300 + np.cumsum(rng.normal(0, 2, (frames, 2)), axis=0)
        wh = np.clip(60 + np.cumsum(rng.normal(0, 0.5, (frames, 2)), axis=0), 10, 200)
        gt = np.round(np.column_stack([xy, wh]))
        absent = np.zeros(frames, dtype=int)
        start = int(rng.integers(1, frames - 100))
        absent[start:start + int(rng.integers(0, 100))] = 1  # an out-of-view span
        _write_rows(os.path.join(folder, "groundtruth.txt"), gt, "%d", ",")
        for flag_file, flags in (("full_occlusion.txt", np.zeros(frames, dtype=int)), ("out_of_view.txt", absent)):
            with open(os.path.join(folder, flag_file), "w") as f:
                f.write(",".join(map(str, flags)) + "\n")
        with open(os.path.join(folder, "nlp.txt"), "w") as f:
            f.write("a synthetic target\n")
        for k in (1, frames):
            open(os.path.join(folder, "img", f"{k:08d}.jpg"), "wb").close()
        gts[name] = gt
    return gts


def make_results(root: str, gts: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    for config, sigma in (("baseline", 3.0), ("other", 8.0)):
        folder = os.path.join(root, "results", "bench", config, "lasot")
        os.makedirs(folder)
        for name, gt in gts.items():
            pred = gt + rng.normal(0, sigma, gt.shape)
            pred[:, 2:] = np.abs(pred[:, 2:]) + 1
            pred[rng.integers(1, len(pred), 5), 2 + rng.integers(0, 2)] = 0.0  # zero-size boxes
            _write_rows(os.path.join(folder, f"{name}.txt"), pred, "%.4f", "\t")
            _write_rows(os.path.join(folder, f"{name}_time.txt"), rng.uniform(0.01, 0.03, (len(gt), 1)), "%.6f",
                        "\t")


def run_cli(root: str, plot_dir: str, plots: bool) -> tuple[float, float, str]:
    cmd = [sys.executable, os.path.join(REPO, "tracking", "analysis_results.py"), "--dataset", "lasot",
           "--tracker", "bench:baseline:Baseline", "--tracker", "bench:other",
           "--results_dir", os.path.join(root, "results"), "--plot_dir", plot_dir]
    if not plots:
        cmd.append("--no_plots")
    env = dict(os.environ, TRACKZOO_LASOT_PATH=os.path.join(root, "lasot"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"analysis failed:\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def dataset_load_time(root: str) -> tuple[float, float]:
    """(wall, cpu) seconds of get_dataset('lasot') alone in a fresh interpreter, imports included: a part of every
    run below that belongs to the dataset reader, not to the analysis."""
    code = ("import time; t = time.perf_counter(); c = time.process_time(); "
            "from lib.test.evaluation import get_dataset; get_dataset('lasot'); "
            "print(time.perf_counter() - t, time.process_time() - c)")
    env = dict(os.environ, TRACKZOO_LASOT_PATH=os.path.join(root, "lasot"))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          check=True)
    wall, cpu = map(float, done.stdout.split())
    return wall, cpu


def analysis_alone(root: str, plot_dir: str) -> tuple[float, float]:
    """(wall, cpu) of the command's main() with the dataset already loaded in the same fresh interpreter: the
    analysis' own share (cold: no cache in plot_dir), tables only."""
    script = os.path.join(REPO, "tracking", "analysis_results.py")
    argv = ["--dataset", "lasot", "--tracker", "bench:baseline", "--tracker", "bench:other", "--no_plots",
            "--results_dir", os.path.join(root, "results"), "--plot_dir", plot_dir]
    code = (f"import runpy, sys, time, io, contextlib; "
            f"from lib.test.evaluation import get_dataset; seqs = get_dataset('lasot'); "
            f"main = runpy.run_path({script!r})['main']; t = time.perf_counter(); c = time.process_time()\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n    main({argv!r}, dataset_loader=lambda n: seqs)\n"
            f"print(time.perf_counter() - t, time.process_time() - c)")
    # the script's folder first on the path, as when it runs by path; the checkout for `lib`
    env = dict(os.environ, TRACKZOO_LASOT_PATH=os.path.join(root, "lasot"),
               PYTHONPATH=os.pathsep.join([os.path.dirname(script), REPO]))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          check=True)
    wall, cpu = map(float, done.stdout.split())
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2500)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (the median is printed)")
    parser.add_argument("--keep", help="write the data here (kept) instead of a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or tmp
        rng = np.random.default_rng(0)
        t = time.perf_counter()
        gts = make_dataset(root, args.frames, rng)
        make_results(root, gts, rng)
        print(f"generated 280 sequences x {args.frames} frames, 2 trackers in {time.perf_counter() - t:.1f} s")
        data_wall, data_cpu = dataset_load_time(root)
        print(f"get_dataset('lasot') alone: wall {data_wall:.2f} s   cpu {data_cpu:.2f} s (included in every run)")
        cases = (("cold, tables only", False, True), ("warm, tables only", False, False),
                 ("cold, tables + plots", True, True), ("warm, tables + plots", True, False))
        output = ""
        for label, plots, cold in cases:
            walls, cpus = [], []
            for k in range(args.repeat):
                plot_dir = os.path.join(root, f"plots_{label[:4]}_{plots}_{k}" if cold else f"plots_warm_{plots}")
                if not cold and k == 0:
                    run_cli(root, plot_dir, plots)  # fill the cache / draw the plots once
                wall, cpu, output = run_cli(root, plot_dir, plots)
                walls.append(wall)
                cpus.append(cpu)
            print(f"{label:22s} wall {np.median(walls):5.2f} s   cpu {np.median(cpus):5.2f} s   "
                  f"cpu without get_dataset {np.median(cpus) - data_cpu:5.2f} s   "
                  f"(wall per run: {', '.join(f'{w:.2f}' for w in walls)})")
        for k, label in enumerate(("cold", "warm")):
            wall, cpu = analysis_alone(root, os.path.join(root, "plots_alone"))
            print(f"analysis alone ({label}, dataset preloaded, tables only): wall {wall:.2f} s   cpu {cpu:.2f} s")
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; pytracking reference: 3.3 s cold")
        print(output.strip().splitlines()[0])
        print("\n".join(output.strip().splitlines()[2:4]))


if __name__ == "__main__":
    main()
