"""Pack TrackingNet test results for the evaluation server (zip next to the results; raw results are kept).

    python lib/test/utils/transform_trackingnet.py --tracker_name stark_st --cfg_name baseline
"""
import sys

import _init_paths  # noqa: F401  (lib/test/utils/_init_paths.py puts the repository root on sys.path)

from lib.test.analysis.packing import trackingnet_main

if __name__ == "__main__":
    sys.exit(trackingnet_main())
