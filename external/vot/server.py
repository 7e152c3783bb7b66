"""TraX server (vot-trax 4 API) that runs any registered tracker for the VOT toolkit.

    python -m external.vot.server --tracker stark_st --param baseline --checkpoint FILE [--channels color,depth]

The toolkit starts this process (trackers.ini, written by `python -m external.vot.workspace add`) and sends
`initialize` and `frame` requests with one image path per channel; each answer is a rectangle plus a `confidence`
property (long-term and RGB-D analyses need it). Only rectangles are offered: the toolkit converts polygon or mask
ground truth to the rectangle that bounds it. The colour frame is the tracker's image; extra channels (depth as
read, 16-bit millimetres in VOT data; ir as RGB) reach the tracker in `info["channels"]`.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from lib.test.parameter import TrackerParams
from lib.utils.cli import UserError, run_main
from lib.utils.device import resolve_device
from lib.utils.image_io import ImageReadError, imread_rgb

CHANNELS = ("color", "depth", "ir")
# The optional per-frame score a tracker reports next to its box (lib/test/tracker/base.py, NetworkTracker extras).
CONFIDENCE_KEY = "conf_score"
# Reported when a tracker has no score: always confident, so long-term curves reduce to a single operating point.
DEFAULT_CONFIDENCE = 1.0


@dataclass
class Reply:
    box: list[float]  # x, y, w, h in frame pixels
    confidence: float


def parse_channels(text: str) -> tuple[str, ...]:
    """`color,depth` -> ('color', 'depth'); colour must be one of them (every registered tracker reads RGB)."""
    channels = tuple(c.strip() for c in text.split(",") if c.strip())
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown or "color" not in channels or len(set(channels)) != len(channels):
        raise UserError(f"--channels {text!r}: give distinct names from {', '.join(CHANNELS)}, including color")
    return channels


def read_channel(channel: str, path: str) -> np.ndarray:
    """One channel's image: colour and ir as RGB uint8, depth unchanged (16-bit millimetres in VOT data)."""
    if channel != "depth":
        return imread_rgb(path)
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageReadError(f"cannot read depth image {path}")
    return image


class VotSession:
    """Follows one target per `initialize`, translating toolkit requests into the tracker API."""

    def __init__(self, tracker: Any, channels: Sequence[str]):
        self.tracker = tracker
        self.channels = tuple(channels)
        self.previous: dict = {}  # the last output, passed back as the tracker API's `previous_output`

    def _frame(self, paths: Mapping[str, str]) -> tuple[np.ndarray, dict]:
        missing = [c for c in self.channels if c not in paths]
        if missing:
            raise ValueError(f"the toolkit sent no image for channel(s) {', '.join(missing)}")
        extra = {c: read_channel(c, paths[c]) for c in self.channels if c != "color"}
        return read_channel("color", paths["color"]), extra

    def initialize(self, paths: Mapping[str, str], box: Sequence[float]) -> Reply:
        image, extra = self._frame(paths)
        init_box = [float(v) for v in box]
        out = self.tracker.initialize(image, {"init_bbox": init_box, "channels": extra}) or {}
        self.previous = {"target_bbox": [float(v) for v in out.get("target_bbox", init_box)]}
        return Reply(self.previous["target_bbox"], DEFAULT_CONFIDENCE)

    def track(self, paths: Mapping[str, str]) -> Reply:
        image, extra = self._frame(paths)
        out = self.tracker.track(image, {"previous_output": self.previous, "channels": extra})
        self.previous = out
        box = np.asarray(out["target_bbox"], dtype=np.float64).reshape(-1)
        return Reply(box.tolist(), float(out.get(CONFIDENCE_KEY, DEFAULT_CONFIDENCE)))


def build_session(args: argparse.Namespace) -> VotSession:
    channels = parse_channels(args.channels)
    device = resolve_device(args.device)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    params = TrackerParams.create(args.tracker, args.param, checkpoint=args.checkpoint, device=device,
                                  save_dir=args.save_dir, opts=args.opts)
    if params.family.build_tracker is None:
        raise UserError(f"--tracker {args.tracker}: family '{params.family.name}' declares no test-time tracker")
    return VotSession(params.family.build_tracker(params), channels)


def serve(session: VotSession, name: str) -> None:
    """Answer toolkit requests until it quits."""
    import trax

    with trax.Server([trax.Region.RECTANGLE], [trax.Image.PATH], image_channels=list(session.channels),
                     tracker_name=name) as server:
        while True:
            request = server.wait()
            if request.type == trax.TraxStatus.QUIT:
                break
            paths = {channel: image.path() for channel, image in request.image.items()}
            if request.type == trax.TraxStatus.INITIALIZE:
                region, _ = request.objects[0]
                reply = session.initialize(paths, region.bounds())
            else:
                reply = session.track(paths)
            server.status([(trax.Rectangle.create(*reply.box), {"confidence": reply.confidence})])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracker", required=True, help="registered tracker name (e.g. stark_st, ostrack, hold)")
    parser.add_argument("--param", required=True, help="its config (experiments/<script>/NAME.yaml), or the option "
                                                       "of a baseline (hold: default, opencv: mil, kcf, ...)")
    parser.add_argument("--checkpoint", default=None, help="weights file (default: the config's TEST.EPOCH one)")
    parser.add_argument("--save_dir", default=None, help="folder holding checkpoints/ (default: from env)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available")
    parser.add_argument("--channels", default="color", help="image channels to ask for: color[,depth][,ir]")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for torch (0: torch's default; 1 avoids spin-waiting on a busy machine)")
    parser.add_argument("--opts", nargs="*", default=[], help="config overrides KEY VALUE ...")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    session = build_session(args)
    serve(session, f"{args.tracker}_{args.param}")
    return 0


def run(argv: list[str]) -> None:
    """Entry used by trackers.ini (`python -c "...; run([...])"`): exit with main's code."""
    sys.exit(run_main(main, argv))


if __name__ == "__main__":
    sys.exit(run_main(main))
