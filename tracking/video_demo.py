"""Run a tracker on a video file (or a folder of frames) from a box in its first frame.

    python tracking/video_demo.py TRACKER CONFIG VIDEOFILE --optional_box X Y W H [--save_results] \
        [--save_video OUT.mp4]
    python tracking/video_demo.py ostrack vitb_384_mae_ce_32x4_ep300 videofile --optional_box 120 80 60 40 \
        --save_results

The official demos' command line. There is no window here (the box comes from --optional_box, in pixels of the
first frame): --save_results writes the boxes to <results_dir>/<tracker>/<config>/video_<name>.txt and the
tracker's time per frame beside them (video_<name>_time.txt), as test.py writes a sequence's, --save_video a copy of
the video with the box drawn. Every file is written atomically.
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Iterator

import _init_paths  # noqa: F401  (puts the repository root on sys.path)

import cv2
import numpy as np

from lib.families import get_tracker_family, list_trackers
from lib.utils.cli import UserError, run_main
from lib.utils.device import resolve_device
from lib.utils.env import MissingPathError
from lib.utils.image_io import ImageReadError, imread_rgb

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}  # --save_video container -> a FourCC every OpenCV build writes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tracker_name", help=f"registered tracker: {', '.join(list_trackers())}")
    parser.add_argument("tracker_param", help="config name (experiments/<script>/<name>.yaml)")
    parser.add_argument("videofile", help="a video file OpenCV can decode, or a folder of frame images")
    parser.add_argument("--optional_box", type=float, nargs="+", metavar="X Y W H",
                        help="the target's box in the first frame (required: there is no window to draw it in)")
    parser.add_argument("--save_results", action="store_true", help="write the boxes (see above)")
    parser.add_argument("--save_video", metavar="PATH", help="write the video with the box drawn (.mp4 or .avi)")
    parser.add_argument("--checkpoint", help="weights file instead of the config's TEST.EPOCH one")
    parser.add_argument("--save_dir", help="folder holding checkpoints/ (default: from env)")
    parser.add_argument("--results_dir", help="results root (default: env results_path)")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    parser.add_argument("--opts", nargs="*", default=[], help="config overrides KEY VALUE ...")
    parser.add_argument("--debug", type=int, default=0, help="> 0: show the traceback of an error (trackers may visualise)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    get_tracker_family(args.tracker_name)
    if args.optional_box is None or len(args.optional_box) != 4 or min(args.optional_box[2:]) <= 0:
        raise UserError(f"--optional_box: give the first frame's target box as X Y W H with W, H > 0 (got "
                        f"{args.optional_box}); this demo has no window to draw it in")
    if args.save_video and os.path.splitext(args.save_video)[1].lower() not in VIDEO_CODECS:
        raise UserError(f"--save_video {args.save_video}: name a {' or '.join(VIDEO_CODECS)} file")
    return args


class FrameSource:
    """The frames of a video file or of a folder of images (sorted by name), as RGB uint8 arrays."""

    def __init__(self, path: str):
        if not os.path.exists(path):
            raise MissingPathError(f"videofile {path} does not exist")
        self.path = path
        self.files = _image_files(path) if os.path.isdir(path) else None
        self.fps, self.count = 30.0, len(self.files or ())
        if self.files is None:
            capture = cv2.VideoCapture(path)
            self.fps = capture.get(cv2.CAP_PROP_FPS) or self.fps
            self.count = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)  # an estimate for some formats
            capture.release()

    @property
    def name(self) -> str:
        return os.path.splitext(os.path.basename(os.path.normpath(self.path)))[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.files is not None:
            for file in self.files:
                try:
                    image = imread_rgb(file)
                except ImageReadError as e:
                    raise UserError(f"videofile {self.path}: {e}") from e
                yield image
            return
        capture = cv2.VideoCapture(self.path)
        try:
            ok, frame = capture.read()
            if not ok:
                raise UserError(f"videofile {self.path}: OpenCV cannot read a frame from it (not a video it decodes)")
            while ok:
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                ok, frame = capture.read()
        finally:
            capture.release()


def _image_files(folder: str) -> list[str]:
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise MissingPathError(f"videofile {folder}: a folder without {'/'.join(IMAGE_SUFFIXES)} images")
    return files


def check_box(box: list[float], image: np.ndarray) -> None:
    x, y, w, h = box
    height, width = image.shape[:2]
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise UserError(f"--optional_box {x:g} {y:g} {w:g} {h:g} lies outside the first frame ({width} x {height})")


def check_rgb_input(runner: object, args: argparse.Namespace) -> None:
    preprocessor = getattr(runner, "preprocessor", None)
    channels = getattr(preprocessor, "channels", 3)
    if channels != 3:
        raise UserError(f"{args.tracker_name} {args.tracker_param} takes {channels}-channel frames (RGB and an "
                        f"auxiliary modality); this demo reads RGB videos only: use tracking/test.py on the "
                        f"multi-modal dataset")


class VideoOutput:
    """The annotated copy of the video: written to a temporary file beside PATH, renamed when complete."""

    def __init__(self, path: str, fps: float):
        self.path = os.path.abspath(path)
        stem, suffix = os.path.splitext(self.path)
        self.partial = f"{stem}.partial{suffix}"
        self.fourcc = cv2.VideoWriter_fourcc(*VIDEO_CODECS[suffix.lower()])
        self.fps = fps
        self.writer = None

    def write(self, image: np.ndarray, box: list[float]) -> None:
        frame = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        x, y, w, h = (int(round(v)) for v in box)
        cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 255, 0), 2)
        if self.writer is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.writer = cv2.VideoWriter(self.partial, self.fourcc, self.fps, (frame.shape[1], frame.shape[0]))
            if not self.writer.isOpened():
                raise UserError(f"--save_video {self.path}: OpenCV cannot write this format here")
        self.writer.write(frame)

    def close(self, complete: bool) -> None:
        if self.writer is not None:
            self.writer.release()
            if complete:
                os.replace(self.partial, self.path)
            elif os.path.exists(self.partial):
                os.remove(self.partial)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tqdm import tqdm

    from lib.test.analysis.results import time_file_for
    from lib.test.evaluation.running import write_results
    from lib.test.evaluation.tracker import Tracker, track_frames

    source = FrameSource(args.videofile)
    results_path = os.path.abspath(args.results_dir) if args.results_dir else None
    tracker = Tracker(args.tracker_name, args.tracker_param, "video", results_path=results_path,
                      checkpoint=args.checkpoint, device=resolve_device(args.device), debug=args.debug,
                      save_dir=args.save_dir, opts=args.opts)
    tracker.check()
    runner = tracker.create_tracker()
    check_rgb_input(runner, args)
    frames = iter(source)
    first = next(frames)
    check_box(args.optional_box, first)
    shown = {}  # the frame the tracker has just been given: track_frames yields its box before taking the next

    def feed() -> Iterator[np.ndarray]:
        for image in itertools.chain([first], frames):
            shown["image"] = image
            yield image

    video = VideoOutput(args.save_video, source.fps) if args.save_video else None
    boxes, seconds = [], []
    complete = False
    try:
        with tqdm(total=source.count or None, desc=source.name, unit="frame", disable=args.no_progress) as bar:
            for box, took, _ in track_frames(runner, feed(), {"init_bbox": args.optional_box}):
                boxes.append(box)
                seconds.append(took)
                if video is not None:
                    video.write(shown["image"], box)
                bar.update()
        complete = True
    finally:
        if video is not None:
            video.close(complete)
    fps = (len(seconds) - 1) / max(sum(seconds[1:]), 1e-9)
    written = []
    if args.save_results:
        path = os.path.join(tracker.results_dir, f"video_{source.name}.txt")
        write_results(path, time_file_for(path), {"target_bbox": boxes, "time": seconds})
        written.append(path)
    if video is not None:
        written.append(video.path)
    print(f"{len(boxes)} frames, {fps:.1f} frames/s of tracker time; "
          + (f"wrote {', '.join(written)}" if written else "nothing saved (add --save_results or --save_video)"))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
