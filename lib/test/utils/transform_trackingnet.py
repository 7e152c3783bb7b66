"""Pack TrackingNet test results for the evaluation server (zip next to the results; raw results are kept).

    python lib/test/utils/transform_trackingnet.py --tracker_name stark_st --cfg_name baseline
"""
import sys

if __package__ in (None, ""):  # run by path: the entry-point bootstrap puts the repository root on sys.path
    import runpy
    from pathlib import Path

    runpy.run_path(str(Path(__file__).resolve().parents[3] / "tracking" / "_init_paths.py"))

from lib.test.analysis.packing import trackingnet_main

if __name__ == "__main__":
    sys.exit(trackingnet_main())
