"""'opencv': OpenCV's classic single-object trackers as baselines (`test.py opencv mil`).

The config name is the algorithm; which ones exist depends on the installed OpenCV build (see tracker.py).
"""
from lib.families import Family
from lib.test.tracker.untrained import no_config, no_model


def build_tracker(params):
    from lib.families.opencv.tracker import OpenCVTracker

    return OpenCVTracker(params)


FAMILY = Family(name="opencv", scripts={}, trackers={"opencv": ""}, add_config=no_config, build_model=no_model,
                build_tracker=build_tracker, description="baselines: OpenCV trackers (MIL, and KCF/CSRT/... "
                                                         "when the OpenCV build has them)")
