"""The official SDSTrack tracking step (hoqolo/SDSTrack), for `benchmark_speed.py --reference`.

Loaded by path into tracking/speed_reference_worker.py, which runs with the official repository as `lib`: so this
file imports only torch and the official code, never TrackZoo modules.

One blocker is patched, in this process only (the checkout is never edited): `lib.train.data`, imported on the way
to `transform_image_to_crop` (the box transform the tracker's initialisation uses), imports `torch._six`, which
torch removed in 2.0; a stand-in module with the two names the release reads is registered.
"""
import sys
import types
from typing import Callable

import torch


def register_torch_six() -> None:
    """`torch._six` as the release's data loader imports it (string_classes, int_classes)."""
    six = types.ModuleType("torch._six")
    six.string_classes, six.int_classes = (str, bytes), int
    sys.modules.setdefault("torch._six", six)


def build_step(script: str, cfg, inputs: dict, load_weights: Callable[[torch.nn.Module], None]
               ) -> Callable[[], dict]:
    """As the official tracker (lib/test/tracker/sdstrack.py). At initialisation: the 6-channel template crop
    ([RGB ; depth/thermal/event], as ours) kept, the candidate-elimination mask made from the initial box and the
    Hann window built. Per frame: the network on (template, 6-channel search) with `infer=True` (no masked
    self-distillation branch, the first output dict), then the box and score at the peak of the windowed score map
    (`box_head.cal_bbox`), which our forward_search also returns (peak_box, peak_score). `head_input` is the
    search feature map the head reads (a view of backbone_feat, as `forward_head` shapes it), for the comparison."""
    register_torch_six()
    from lib.models.sdstrack import build_sdstrack
    from lib.test.utils.hann import hann2d
    from lib.train.data.processing_utils import transform_image_to_crop
    from lib.utils.ce_utils import generate_mask_cond

    net = build_sdstrack(cfg, training=False)
    load_weights(net)
    ce_mask = None
    if cfg.MODEL.BACKBONE.CE_LOC:
        box = torch.tensor(inputs["init_box"])
        size = torch.Tensor([cfg.TEST.TEMPLATE_SIZE] * 2)
        template_box = transform_image_to_crop(box, box, inputs["template_resize_factor"], size, normalize=True)
        ce_mask = generate_mask_cond(cfg, 1, "cpu", template_box.view(1, 4))
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
