"""The `vot` command (vot-toolkit 0.9.0) with two of its known problems handled at run time.

    python -m external.vot.toolkit evaluate --workspace W TRACKER_ID
    python -m external.vot.toolkit analysis --workspace W --format json TRACKER_ID
    python -m external.vot.toolkit report --workspace W TRACKER_ID

Arguments are the toolkit's own (`vot --help`). Handled here:
- Update check: every `vot` subcommand first fetches the toolkit's version file from GitHub (`check_updates`,
  5 s timeout) and no environment variable or option turns that off (read in 0.7.4, 0.8.1 and 0.9.0); this
  entry replaces the check by "no update", so nothing goes to the network unless a stack's dataset is missing.
- Multistart experiments (VOT-ST/RGBD/RGBT 2020-2022, our offline stack): 0.8.1 and 0.9.0 build the run's query
  from an ObjectStatus instead of a Region (`ObjectQuery.state must be a Region`), start it at the anchor's index
  in the original sequence instead of frame 0 of the re-ordered one, and index the per-frame time list as a list
  of lists ("'float' object is not subscriptable"). `MultiStartExperiment.execute` is replaced by a repaired one
  for those versions; the results it writes have the format the analyses read.
"""
from __future__ import annotations

import os
import sys
from typing import Callable

# The toolkit releases whose MultiStartExperiment.execute is broken as described above.
BROKEN_MULTISTART = ("0.8.1", "0.9.0")


def execute_multistart(self, tracker, sequence, force: bool = False, callback: Callable | None = None) -> None:
    """Run the tracker from every anchor of `sequence` (forward to the end, or backward to the start)."""
    from vot.dataset.proxy import FrameMapSequence
    from vot.experiment.multistart import find_anchors
    from vot.region import Special
    from vot.tracker import ObjectQuery, Trajectory

    results = self.results(tracker, sequence)
    forward, backward = find_anchors(sequence, self.anchor)
    runs = [(i, False) for i in forward] + [(i, True) for i in backward]
    if not runs:
        raise RuntimeError(f"sequence {sequence.name} has no anchors ({self.anchor}.value)")
    with self._get_runtime(tracker, sequence) as runtime:
        for done, (anchor, backwards) in enumerate(runs, 1):
            name = f"{sequence.name}_{anchor:08d}"
            if force or not Trajectory.exists(results, name):
                frames = range(anchor, -1, -1) if backwards else range(anchor, len(sequence))
                proxy = FrameMapSequence(sequence, list(frames))
                start = self._get_initialization(proxy, 0)
                status = runtime.run(proxy, [ObjectQuery(start.region, start.properties, 0)])
                trajectory = Trajectory(len(proxy))
                trajectory.set(0, Special(Trajectory.INITIALIZATION), {"time": status.times[0]})
                for frame in range(1, len(proxy)):
                    state = status.objects[0][frame]
                    trajectory.set(frame, state.region, {**state.properties, "time": status.times[frame]})
                trajectory.write(results, name)
            if callback:
                callback(done / len(runs))


def patch_toolkit() -> None:
    """Apply both fixes to the imported toolkit."""
    import vot
    import vot.utilities.cli as cli
    from vot.experiment.multistart import MultiStartExperiment

    cli.check_updates = lambda: (False, None)
    if vot.__version__ in BROKEN_MULTISTART:
        MultiStartExperiment.execute = execute_multistart


def main(argv: list[str] | None = None) -> int:
    from vot.utilities.cli import main as vot_main

    args = sys.argv[1:] if argv is None else argv
    if "--debug" in args or "-d" in args:
        # The toolkit reads its settings once, from VOT_* variables, when first used; `vot --debug` sets this one
        # just before, but patch_toolkit's imports come first here.
        os.environ["VOT_DEBUG_MODE"] = "1"
    patch_toolkit()
    sys.argv = ["vot", *args]
    try:
        vot_main()  # ends with exit(0), or exit(1) after logging an error
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
