"""Helper process of `benchmark_speed.py --reference`: times the official code's tracking step.

Started by the benchmark with PYTHONPATH = the official repository (whose package is also called `lib`, so it
cannot share a process with ours). It loads the weights and inputs the benchmark saved, builds the official
network, encodes the templates once and then, for each request line on stdin (`run N`), runs N steps and answers
one JSON line of per-step wall and CPU milliseconds. The outputs of one step are saved for the equality check.

What the step is comes from the family's reference-step file (the `reference_step` of its Family,
e.g. lib/families/stark/reference_step.py), loaded by path.
"""
import argparse
import importlib
import importlib.util
import json
import os
import sys
import time

import torch


def load_config(script: str, config_file: str):
    module = importlib.import_module(f"lib.config.{script}.config")
    module.update_config_from_file(config_file)
    return module.cfg


def load_step_builder(path: str):
    """The family's `build_step` from its reference-step file (loaded by path: our `lib` is not importable here)."""
    spec = importlib.util.spec_from_file_location("reference_step", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_step


def load_weights(net: torch.nn.Module, path: str) -> None:
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["net"], strict=True)
    net.eval()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", required=True, help="the official config package (lib/config/<script>)")
    parser.add_argument("--step_file", required=True, help="the family's reference_step.py")
    parser.add_argument("--config_file", required=True)
    parser.add_argument("--workdir", required=True, help="folder with inputs.pt (written by the benchmark)")
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    replies, sys.stdout = sys.stdout, sys.stderr  # the official code prints; stdout carries the replies only
    torch.set_num_threads(args.threads)
    cfg = load_config(args.script, args.config_file)
    inputs = torch.load(os.path.join(args.workdir, "inputs.pt"), weights_only=True)
    weights = os.path.join(args.workdir, "weights.pth.tar")
    with torch.no_grad():
        step = load_step_builder(args.step_file)(args.script, cfg, inputs, lambda net: load_weights(net, weights))
        out = step()
        torch.save({k: v for k, v in out.items() if isinstance(v, torch.Tensor)},
                   os.path.join(args.workdir, "official_out.pt"))
        print(json.dumps({"ready": True}), file=replies, flush=True)
        for line in sys.stdin:
            runs = int(line.split()[1])
            wall, cpu = [], []
            for _ in range(runs):
                w, c = time.perf_counter(), time.process_time()
                step()
                wall.append((time.perf_counter() - w) * 1000.0)
                cpu.append((time.process_time() - c) * 1000.0)
            print(json.dumps({"wall_ms": wall, "cpu_ms": cpu}), file=replies, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
