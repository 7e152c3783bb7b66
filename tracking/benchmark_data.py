"""Measure the training data pipeline alone (sampler + decode + processing + transforms), in samples per second.

    python tracking/benchmark_data.py                      # synthetic GOT-10k folder, 640x360 JPEGs
    python tracking/benchmark_data.py --width 1920 --height 1080
    python tracking/benchmark_data.py --got10k_dir data/got10k/train --workers 2 4

The folder is read with the project's GOT-10k reader (every sequence of list.txt). Two settings are timed:
STARK-S (template 128 / search 320, factors 2 / 5, jitter 4.5 / 0.5, padding checks) and OSTrack-256
(128 / 256, factors 2 / 4, jitter 3 / 0.25, Gaussian heat map at stride 16); causal sampling, one template and
one search frame. For each: one process (samples/s by wall clock, and by the process's CPU time, which is less
disturbed by other jobs on a shared machine), then a DataLoader with N workers and batches collated as the
trainer receives them. JPEG decoding alone is timed on the same frames for reference.
"""
import _init_paths  # noqa: F401  (puts the repository root on sys.path)

import argparse
import glob
import os
import sys
import tempfile
import time

import cv2
import torch

from lib.train.data.loader import EpochIndexSampler, TrackingLoader, build_transforms
from lib.train.data.processing import TrackingProcessing
from lib.train.data.sampler import TrackingSampler
from lib.train.dataset.got10k import Got10k
from lib.utils.image_io import imread_rgb

SETTINGS = {
    "stark_s": {"size": (128, 320), "factor": (2.0, 5.0), "center_jitter": (0.0, 4.5), "scale_jitter": (0.0, 0.5),
                "processing": {}},
    "ostrack256": {"size": (128, 256), "factor": (2.0, 4.0), "center_jitter": (0.0, 3.0),
                   "scale_jitter": (0.0, 0.25), "processing": {"heatmap_stride": 16}},
}
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def make_sampler(dataset, setting: dict, samples: int, seed: int) -> TrackingSampler:
    joint, per_crop = build_transforms(MEAN, STD, training=True)
    parts = ("template", "search")
    processing = TrackingProcessing(
        search_area_factor=dict(zip(parts, setting["factor"])), output_sz=dict(zip(parts, setting["size"])),
        center_jitter_factor=dict(zip(parts, setting["center_jitter"])),
        scale_jitter_factor=dict(zip(parts, setting["scale_jitter"])),
        transform=per_crop, joint_transform=joint, **setting["processing"])
    return TrackingSampler([dataset], [1], samples, max_gap=200, num_search_frames=1, num_template_frames=1,
                           processing=processing, frame_sample_mode="causal", seed=seed)


def time_single(sampler: TrackingSampler, samples: int) -> tuple[float, float]:
    sampler[(0, 0)]  # warm-up (imports, caches)
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(1, samples + 1):
        sampler[(1, index)]
    return samples / (time.perf_counter() - wall), samples / (time.process_time() - cpu)


def time_workers(sampler: TrackingSampler, workers: int, batch_size: int, batches: int) -> float:
    index_sampler = EpochIndexSampler((batches + 1) * batch_size, seed=0)
    loader = TrackingLoader("bench", sampler, training=True, batch_size=batch_size, sampler=index_sampler,
                            num_workers=workers, drop_last=True, persistent_workers=False)
    iterator = iter(loader)
    next(iterator)  # worker start-up is not part of the steady state
    start = time.perf_counter()
    count = sum(1 for _ in iterator)
    return count * batch_size / (time.perf_counter() - start)


def time_decode(root: str, frames: int) -> float:
    paths = sorted(glob.glob(os.path.join(root, "*", "*.jpg")))[:frames]
    imread_rgb(paths[0])
    start = time.process_time()
    for path in paths:
        imread_rgb(path)
    return len(paths) / (time.process_time() - start)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--got10k_dir", default=None,
                        help="a GOT-10k training folder (with list.txt); default: generate a synthetic one")
    parser.add_argument("--samples", type=int, default=400, help="samples timed in the single-process run")
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="DataLoader worker counts to time")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=25, help="batches timed per worker count")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=640, help="frame width of the generated folder")
    parser.add_argument("--height", type=int, default=360, help="frame height of the generated folder")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, root: str) -> None:
    torch.set_num_threads(1)
    cv2.setNumThreads(1)  # "one process" means one core (DataLoader workers are single-threaded too)
    dataset = Got10k(root, imread_rgb)
    print(f"data: {root} ({dataset.get_num_sequences()} sequences, lib.train.dataset.got10k reader); "
          f"torch and OpenCV threads 1")
    print(f"JPEG decode alone: {time_decode(root, 200):.0f} frames/s (CPU time)")
    for name in args.settings:
        sampler = make_sampler(dataset, SETTINGS[name], args.samples, args.seed)
        wall_rate, cpu_rate = time_single(sampler, args.samples)
        print(f"{name}: 1 process: {wall_rate:.0f} samples/s wall, {cpu_rate:.0f} samples/s of CPU time")
        for workers in args.workers:
            rate = time_workers(sampler, workers, args.batch_size, args.batches)
            print(f"{name}: {workers} workers, batch {args.batch_size}: {rate:.0f} samples/s")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.got10k_dir is not None:
        run(args, args.got10k_dir)
        return 0
    from lib.synthetic import generate

    with tempfile.TemporaryDirectory(prefix="trackzoo_bench_") as tmp:
        generate("got10k", tmp, args.seed, num_sequences=8, num_frames=100, width=args.width, height=args.height)
        run(args, os.path.join(tmp, "train"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
