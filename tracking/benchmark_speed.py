"""Speed of one tracking step for the registered models at full size: the network alone and the whole tracker.

    python tracking/benchmark_speed.py                              # every family's full-size models, CPU
    python tracking/benchmark_speed.py --models stark_s:baseline --runs 20
    python tracking/benchmark_speed.py --reference /path/to/Stark --models STARK-S50 STARK-ST50 STARK-ST101
    python tracking/benchmark_speed.py --device cuda --dtype fp16 --cuda_graph --batch 64

`network`: the search forward of one frame with the templates encoded once (what the official profile_model
times); `tracker`: a whole `track()` call (crop, normalise, network, decode, map back). Weights are random (speed
does not depend on them) and the frame is synthetic. Each model is timed in this process after --warmup calls.

Clock: wall time at --threads on a quiet machine; when other work loads the cores (load average minus our own
threads above 0.5 per core) the process's CPU time at one thread, which stays comparable under load.

--reference PATH (a checkout of researchmm/Stark, botaoye/OSTrack, microsoft/VideoX's SeqTrack folder,
capf-2011/MSTGT, chenxlin222/DynamicTrack's tracker_code or hoqolo/SDSTrack): the official network step is timed in a
helper process on the same weights and inputs, interleaved with ours in --rounds rounds, and the ratio official / ours
(of the medians; in brackets the lowest and highest of the rounds' ratios) is printed with the largest output
difference. No ratio is printed when any load sample taken during the measurement was busy.

GPU and options: --dtype fp16/bf16 runs the step under autocast, --cuda_graph replays it as a CUDA graph,
--batch N also times one forward of N search crops (frames/s of batched evaluation), --compile torch.compiles the
step and reports the compile time. The network is the test-time build, as test.py runs it (BatchNorm folded, layers
packed for oneDNN on the CPU: lib/test/tracker/base.py prepare_for_inference).
"""
from __future__ import annotations

import _init_paths  # noqa: F401  (puts the repository root on sys.path)

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from lib.families import discover
from lib.models.layers.packed import use_packed_kernels
from lib.test.parameter import TrackerParams
from lib.test.tracker.accel import DTYPES, accelerate
from lib.test.tracker.speed import (BenchSteps, LoadSample, Timing, bench_steps, build_bench_tracker,
                                    ratio_allowed, sample_load, synchronizer, time_calls)
from lib.utils.cli import UserError, run_main
from lib.utils.device import resolve_device
from lib.utils.env import MissingPathError
from lib.utils.io import atomic_write_text

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "speed_reference_worker.py")


def default_models() -> dict[str, tuple[str, str]]:
    """Display name -> (tracker, config): the full-size models every registered family declares for this benchmark
    (its `speed_models`)."""
    return {name: model for family in discover().values() for name, model in family.speed_models.items()}


def parse_models(values: list[str] | None) -> dict[str, tuple[str, str]]:
    """Display names from `default_models()`, or TRACKER:CONFIG pairs."""
    models = default_models()
    if not values:
        return models
    chosen = {}
    for value in values:
        if value in models:
            chosen[value] = models[value]
        elif ":" in value:
            tracker, config = value.split(":", 1)
            chosen[value] = (tracker, config)
        else:
            raise UserError(f"--models {value}: give one of {', '.join(models)} or TRACKER:CONFIG")
    return chosen


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=None, help=f"default: {' '.join(default_models())}")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="default: cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores; 1 when busy)")
    parser.add_argument("--clock", choices=["auto", "wall", "cpu"], default="auto",
                        help="auto: wall on a quiet machine, CPU time at 1 thread when busy")
    parser.add_argument("--runs", type=int, default=10, help="timed calls per model and measure (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first (default 2)")
    parser.add_argument("--dtype", choices=list(DTYPES), default="fp32", help="fp16/bf16: the step under autocast")
    parser.add_argument("--cuda_graph", action="store_true", help="replay the step as a CUDA graph (--device cuda)")
    parser.add_argument("--batch", type=int, default=1,
                        help="also time one batched forward of N search crops (as test.py --batch_sequences N)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the network first (reports the compile time; not with --reference)")
    parser.add_argument("--reference", default=None, metavar="PATH", help="official repository to compare with")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds with --reference (default 5)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--opts", nargs="*", default=[], help="config overrides KEY VALUE ... for every model")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.rounds < 1 or args.threads < 0 or args.batch < 1:
        raise UserError("--runs, --rounds and --batch must be >= 1, --warmup and --threads >= 0")
    if args.reference and not os.path.isdir(os.path.join(args.reference, "lib")):
        raise MissingPathError(f"--reference {args.reference}: not an official repository (no lib/ folder)")
    if args.reference and (args.compile or args.cuda_graph or args.dtype != "fp32"):
        raise UserError("--reference compares the eager fp32 networks: drop --compile, --cuda_graph and --dtype")
    if args.reference and args.device != "cpu":
        raise UserError("--reference compares on the CPU only; drop --device cuda")
    return args


def choose_clock(requested: str, threads: int, device: str) -> tuple[str, int, LoadSample]:
    """(clock, threads, load sample before starting)."""
    threads = threads or (os.cpu_count() or 1)
    load = sample_load(own_threads=0)
    if device == "cuda":
        return "wall", threads, load
    if requested == "cpu" or (requested == "auto" and load.busy):
        return "cpu", 1, load
    return "wall", threads, load


@dataclass
class ModelResult:
    name: str
    network: Timing
    tracker: Timing
    official: Timing | None = None
    max_abs_diff: float | None = None
    loads: list[LoadSample] = field(default_factory=list)
    compile_s: float | None = None
    batched: Timing | None = None
    batch: int = 1
    round_size: int = 1  # calls of each side per interleaved round with --reference

    def row(self) -> dict[str, Any]:
        row = {"model": self.name, "network_ms": self.network.median_ms, "network_fps": self.network.fps,
               "tracker_ms": self.tracker.median_ms, "tracker_fps": self.tracker.fps,
               "load1": [round(s.load1, 2) for s in self.loads], "compile_s": self.compile_s}
        if self.batched is not None:
            row["batch"] = self.batch
            row["batched_ms"] = self.batched.median_ms
            row["batched_frames_per_s"] = self.batch * self.batched.fps
        if self.official is not None:
            row["official_ms"] = self.official.median_ms
            row["max_abs_diff"] = self.max_abs_diff
            allowed = ratio_allowed(self.loads)
            row["ratio"] = self.official.median_ms / self.network.median_ms if allowed else None
            rounds = zip(self.official.chunk_medians(self.round_size), self.network.chunk_medians(self.round_size))
            row["round_ratios"] = [theirs / ours for theirs, ours in rounds] if allowed else None
        return row


class OfficialProcess:
    """The helper process timing the official step (see speed_reference_worker.py)."""

    def __init__(self, repo: str, params: TrackerParams, config: str, workdir: str, threads: int):
        script = params.train_script
        step_file = params.family.reference_step
        if step_file is None:
            raise UserError(f"--reference: family '{params.family.name}' declares no reference_step, so there is "
                            f"no official step to compare with")
        config_file = os.path.join(repo, "experiments", script, f"{config}.yaml")
        if not os.path.isfile(config_file):
            raise MissingPathError(f"--reference: {config_file} does not exist (is it the repository of this "
                                   f"model's official code?)")
        # No bytecode written: the checkout stays as the user's.
        env = {**os.environ, "PYTHONPATH": os.path.abspath(repo), "OMP_NUM_THREADS": str(threads),
               "PYTHONDONTWRITEBYTECODE": "1"}
        self.proc = subprocess.Popen([sys.executable, WORKER, "--script", script, "--step_file", step_file,
                                      "--config_file", config_file,
                                      "--workdir", workdir, "--threads", str(threads)],
                                     cwd=repo, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._read()  # ready: the network is built and has run once

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the official helper process ended (exit {self.proc.wait()}); see its error above")
        return json.loads(line)

    def run(self, runs: int, timing: Timing) -> None:
        self.proc.stdin.write(f"run {runs}\n")
        self.proc.stdin.flush()
        reply = self._read()
        for wall, cpu in zip(reply["wall_ms"], reply["cpu_ms"]):
            timing.add(wall, cpu)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def max_output_difference(ours: dict, official: dict) -> float:
    """Largest absolute difference over the output tensors both implementations return with the same shape."""
    common = [k for k, v in ours.items() if isinstance(v, torch.Tensor) and k in official
              and official[k].shape == v.shape]
    if not common:
        raise RuntimeError("the official step returns no output comparable with ours")
    return max(float((ours[k].float().cpu() - official[k].float()).abs().max()) for k in common)


def save_reference_inputs(steps: BenchSteps, workdir: str) -> None:
    torch.save({"template": steps.template.tensor, "template_mask": steps.template.mask,
                "search": steps.search.tensor, "search_mask": steps.search.mask,
                "init_box": steps.template.box, "template_resize_factor": steps.template.resize_factor},
               os.path.join(workdir, "inputs.pt"))


def benchmark_model(name: str, tracker_name: str, config: str, args: argparse.Namespace, clock: str,
                    threads: int) -> ModelResult:
    sync = synchronizer(args.device)
    with tempfile.TemporaryDirectory(prefix="benchmark_speed_") as workdir:
        weights = os.path.join(workdir, "weights.pth.tar")
        tracker = build_bench_tracker(tracker_name, config, weights, args.device, args.opts)
        steps = bench_steps(accelerate(tracker, args.dtype, args.cuda_graph))
        result = ModelResult(name, Timing(clock=clock), Timing(clock=clock))
        if args.compile:
            result.compile_s = compile_network(steps, sync)
        for fn in (steps.network, steps.whole):
            time_calls(fn, args.warmup, Timing(), sync)
        official = None
        if args.reference:
            save_reference_inputs(steps, workdir)
            official = OfficialProcess(args.reference, steps.tracker.params, config, workdir, threads)
            result.official = Timing(clock=clock)
            # The official output is its first step's: compare with ours from a fresh start too (state carried
            # across frames, e.g. MSTGT's tokens, has moved on during the warm-up).
            steps.restart()
            result.max_abs_diff = max_output_difference(steps.network(),
                                                        torch.load(os.path.join(workdir, "official_out.pt"),
                                                                   weights_only=True))
            official.run(args.warmup, Timing())
        try:
            per_round = result.round_size = max(1, args.runs // args.rounds)
            for index in range(args.rounds if official else 1):
                result.loads.append(sample_load(threads))
                if official and index % 2:  # alternate who goes first, so a drifting load hits both
                    official.run(per_round, result.official)
                time_calls(steps.network, per_round if official else args.runs, result.network, sync)
                if official and not index % 2:
                    official.run(per_round, result.official)
            time_calls(steps.whole, args.runs, result.tracker, sync)
            if args.batch > 1:
                result.batch, result.batched = args.batch, Timing(clock=clock)
                time_calls(lambda: steps.network_batch(args.batch), args.warmup, Timing(), sync)
                time_calls(lambda: steps.network_batch(args.batch), args.runs, result.batched, sync)
            result.loads.append(sample_load(threads))
        finally:
            if official:
                official.close()
    return result


def compile_network(steps: BenchSteps, sync) -> float:
    """torch.compile the tracker's search step (its network calls, whatever methods the family uses) in place;
    returns the seconds of the first (compiling) call. The packed layers take their ordinary path: inductor's
    freezing (weights as constants, BatchNorm already folded) packs the weights itself."""
    use_packed_kernels(steps.tracker.net, False)
    steps.tracker.forward_search = torch.compile(steps.tracker.forward_search, dynamic=False,
                                                 options={"freezing": True})
    start = time.perf_counter()
    steps.network()
    sync()
    return time.perf_counter() - start


def format_table(rows: list[dict[str, Any]], clock: str, threads: int, device: str) -> str:
    unit = "CPU ms (1 thread)" if clock == "cpu" else f"wall ms ({threads} threads)" if device == "cpu" else "ms"
    lines = [f"device {device}, {unit}; medians", ""]
    header = f"{'model':<14}{'network ms':>12}{'FPS':>8}{'tracker ms':>12}{'FPS':>8}"
    reference = any("official_ms" in r for r in rows)
    if reference:
        header += f"{'official ms':>13}{'ratio (rounds)':>22}{'max |diff|':>12}"
    lines.append(header + "   load average (1 min)")
    for r in rows:
        line = (f"{r['model']:<14}{r['network_ms']:>12.1f}{r['network_fps']:>8.2f}{r['tracker_ms']:>12.1f}"
                f"{r['tracker_fps']:>8.2f}")
        if reference:
            ratio = "busy"
            if r["ratio"] is not None:
                ratio = f"{r['ratio']:.2f}x ({min(r['round_ratios']):.2f}-{max(r['round_ratios']):.2f})"
            line += f"{r['official_ms']:>13.1f}{ratio:>22}{r['max_abs_diff']:>12.2e}"
        compiled = f"   compiled in {r['compile_s']:.0f} s" if r["compile_s"] is not None else ""
        lines.append(line + "   " + " ".join(f"{v:.2f}" for v in r["load1"]) + compiled)
    lines += [f"{r['model']}: batch of {r['batch']} search crops {r['batched_ms']:.1f} ms -> "
              f"{r['batched_frames_per_s']:.1f} frames/s" for r in rows if "batched_ms" in r]
    if reference and any(r["ratio"] is None for r in rows):
        lines.append("ratio 'busy': other work loaded the cores during the measurement; no ratio is reported")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    models = parse_models(args.models)
    args.device = resolve_device(args.device)
    clock, threads, start_load = choose_clock(args.clock, args.threads, args.device)
    torch.set_num_threads(threads)
    print(f"load average {start_load.load1:.2f} on {start_load.cores} cores before starting -> "
          f"{'CPU time at 1 thread' if clock == 'cpu' else f'wall time at {threads} threads'}", flush=True)
    rows = []
    for name, (tracker_name, config) in models.items():
        rows.append(benchmark_model(name, tracker_name, config, args, clock, threads).row())
        print(f"  {name}: network {rows[-1]['network_ms']:.1f} ms", flush=True)
    print(format_table(rows, clock, threads, args.device))
    if args.device == "cuda":
        print(f"GPU: {torch.cuda.get_device_name()}, dtype {args.dtype}, CUDA graph {args.cuda_graph}")
    if args.json:
        report = {"device": args.device, "dtype": args.dtype, "cuda_graph": args.cuda_graph, "clock": clock,
                  "threads": threads, "start_load1": start_load.load1, "cores": start_load.cores,
                  "torch": torch.__version__, "rows": rows}
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
