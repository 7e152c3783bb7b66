"""The official SDSTrack tracking step (hoqolo/SDSTrack), for `benchmark_speed.py --reference`.

Loaded by path into tracking/speed_reference_worker.py, which runs with the official repository as `lib`: so this
file imports only torch and the official code, never TrackZoo modules.

SDSTrack's release is a fork of OSTrack's: the candidate-elimination mask and the `torch._six` stand-in (patched in
this process only; the checkout is never edited) come from the OSTrack reference step, loaded by path as the worker
loads this file.
"""
import importlib.util
import os
from typing import Callable

import torch

OSTRACK_STEP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ostrack", "reference_step.py")


def ostrack_step():
    spec = importlib.util.spec_from_file_location("ostrack_reference_step", OSTRACK_STEP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_step(script: str, cfg, inputs: dict, load_weights: Callable[[torch.nn.Module], None]
               ) -> Callable[[], dict]:
    """As the official tracker (lib/test/tracker/sdstrack.py). At initialisation: the 6-channel template crop
    ([RGB ; depth/thermal/event], as ours) kept, the candidate-elimination mask made from the initial box and the
    Hann window built. Per frame: the network on (template, 6-channel search) with `infer=True` (no masked
    self-distillation branch, the first output dict), then the box and score at the peak of the windowed score map
    (`box_head.cal_bbox`), which our forward_search also returns (peak_box, peak_score). `head_input` is the
    search feature map the head reads (a view of backbone_feat, as `forward_head` shapes it), for the comparison."""
    ostrack = ostrack_step()
    ostrack.register_torch_six()
    from lib.models.sdstrack import build_sdstrack
    from lib.test.utils.hann import hann2d

    net = build_sdstrack(cfg, training=False)
    load_weights(net)
    ce_mask = ostrack.official_ce_mask(cfg, inputs)
    feat_sz = cfg.TEST.SEARCH_SIZE // cfg.MODEL.BACKBONE.STRIDE
    window = hann2d(torch.tensor([feat_sz, feat_sz]).long(), centered=True)

    def step():
        out = net.forward(template=inputs["template"], search=inputs["search"], ce_template_mask=ce_mask,
                          infer=True)
        peak_box, peak_score = net.box_head.cal_bbox(window * out["score_map"], out["size_map"],
                                                     out["offset_map"], return_score=True)
        feat = out["backbone_feat"][:, -feat_sz * feat_sz:]
        head_input = feat.transpose(1, 2).reshape(feat.shape[0], feat.shape[2], feat_sz, feat_sz)
        return {**out, "peak_box": peak_box, "peak_score": peak_score, "head_input": head_input}

    return step
