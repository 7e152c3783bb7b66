"""STARK (Yan et al., ICCV 2021, researchmm/Stark): STARK-S (spatial) and STARK-ST (spatio-temporal, two stages).

Scripts: stark_s (STARK-S), stark_st1 (ST stage 1: boxes), stark_st2 (ST stage 2: score head only, initialised
from stage 1). Trackers: stark_s, and stark_st, which reads stark_st2 experiments and checkpoints.
"""
from __future__ import annotations

import os

from lib.families import Family, Lazy, TinyRun
from lib.families.stark.config import add_config


def data_options(cfg, script: str) -> dict:
    """Official STARK processing: crop boxes normalised by the output size; samples rejected when the padding mask
    covers the whole crop or the whole 16-pixel grid. Stage 2 samples positive and negative search regions with
    labels (the official `train_cls` sampling)."""
    from lib.families.stark.config import check_stage

    check_stage(cfg, script)
    return {"sampler": {"train_cls": script == "stark_st2"},
            "processing": {"norm_by": "out", "reject_padding": True, "padding_check_stride": 16}}


FAMILY = Family(
    name="stark",
    scripts={"stark_s": "STARKS", "stark_st1": "STARKST", "stark_st2": "STARKST"},
    trackers={"stark_s": "stark_s", "stark_st": "stark_st2"},
    add_config=add_config,
    build_model=Lazy("lib.families.stark.model:build_model"),
    build_actor=Lazy("lib.families.stark.actor:build_actor"),
    build_tracker=Lazy("lib.families.stark.tracker:build_tracker"),
    data_options=data_options,
    dummy_inputs=Lazy("lib.families.stark.model:dummy_inputs"),
    tiny={script: TinyRun("tiny") for script in ("stark_s", "stark_st1", "stark_st2")},
    # The got10k_only files and stage 1 build the same networks as the files the manifests were made from.
    manifests={("stark_s", "baseline"): "stark_s50.json", ("stark_s", "baseline_got10k_only"): "stark_s50.json",
               **{(script, config): manifest for script in ("stark_st1", "stark_st2")
                  for config, manifest in (("baseline", "stark_st50.json"), ("baseline_got10k_only", "stark_st50.json"),
                                           ("baseline_R101", "stark_st101.json"),
                                           ("baseline_R101_got10k_only", "stark_st101.json"))}},
    reference_step=os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_step.py"),
    speed_models={"STARK-S50": ("stark_s", "baseline"), "STARK-ST50": ("stark_st", "baseline"),
                  "STARK-ST101": ("stark_st", "baseline_R101")},
    description="STARK-S50 / STARK-ST50 / STARK-ST101: ResNet + DETR encoder-decoder + corner head (+ score head)",
)
