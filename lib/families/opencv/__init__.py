"""'opencv': OpenCV's classic single-object trackers as baselines (`test.py opencv mil`).

The config name is the algorithm; which ones exist depends on the installed OpenCV build (see tracker.py).
"""
from lib.families import Family


def build_tracker(params):
    from lib.families.opencv.tracker import OpenCVTracker

    return OpenCVTracker(params)


FAMILY = Family(name="opencv", scripts={}, trackers={"opencv": ""}, build_tracker=build_tracker,
                description="baselines: OpenCV trackers (MIL, and KCF/CSRT/... when the OpenCV build has them)")
