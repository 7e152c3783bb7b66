"""DynamicTrack (chenxlin222/DynamicTrack): cascaded light (ResNet-18) and heavy (ResNet-50) STARK-S branches with
an adaptive router on the light search features.

One training script, two steps as two experiment files: `baseline` (step 1: both branches jointly, no router)
and `baseline_step2` (step 2: TRAIN.INIT_FROM the step-1 model, TRAIN.TRAINABLE [router]). Tracker: dynamictrack,
routing each frame by `score < TEST.ROUTER_THRESHOLD` (heavy below).
"""
from __future__ import annotations

import os

from lib.families import Family, Lazy, TinyRun
from lib.families.dynamictrack.config import add_config


def data_options(cfg, script: str) -> dict:
    """STARK-S processing (the official code is STARK's)."""
    from lib.families.stark import data_options as stark_options

    return stark_options(cfg, "stark_s")


FAMILY = Family(
    name="dynamictrack",
    scripts={"dynamictrack": "STARKS"},
    trackers={"dynamictrack": "dynamictrack"},
    add_config=add_config,
    build_model=Lazy("lib.families.dynamictrack.model:build_model"),
    build_actor=Lazy("lib.families.dynamictrack.actor:build_actor"),
    build_tracker=Lazy("lib.families.dynamictrack.tracker:build_tracker"),
    data_options=data_options,
    dummy_inputs=Lazy("lib.families.dynamictrack.model:dummy_inputs"),
    # Step 2 (router only, on a step-1 model) is what the tracker needs; step 1 is checked by the family's tests.
    tiny={"dynamictrack": TinyRun("tiny_step2")},
    manifests={("dynamictrack", "baseline_step2"): "dynamictrack.json"},
    reference_step=os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_step.py"),
    speed_models={"DynamicTrack": ("dynamictrack", "baseline_step2")},
    description="DynamicTrack: ResNet-18 / ResNet-50 STARK-S branches and a trained router choosing one per frame",
)
