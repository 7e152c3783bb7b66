"""'hold': the trivial baseline that reports the first-frame box on every frame (`test.py hold default`)."""
from lib.families import Family


def build_tracker(params):
    from lib.families.hold.tracker import HoldTracker

    return HoldTracker(params)


FAMILY = Family(name="hold", scripts={}, trackers={"hold": ""}, build_tracker=build_tracker,
                description="baseline: holds the first-frame box forever")
