"""SDSTrack against values the official code (hoqolo/SDSTrack, lib/models/sdstrack) computed once.

The official VisionTransformerCE + CenterPredictor were built at the tiny config's sizes (ViT 64 wide, 4 blocks,
2 heads, CE after blocks 1 and 2 at 0.7, fusion at block 3; template 64, search 128; head 32 channels), loaded
strictly with the weights drawn in helpers.py and run with infer=True on the drawn 6-channel inputs and CTR_POINT
mask. Against the official code on the same weights and inputs, our maps differed by at most 6e-8 (score, size),
9e-10 (offset) and the boxes were identical. At full size (cvpr2024_rgbd, random weights, batch 2): identical boxes, maps within 6e-8, backbone
features within 2.4e-7.
"""
from __future__ import annotations

import pytest
import torch

from tests.families.sdstrack.helpers import drawn_inputs, drawn_tiny_model

# Printed by the official code (see the module docstring).
OFFICIAL_BOXES = [[0.8736633062362671, 0.24910198152065277, 0.5031901001930237, 0.5041958093643188],
                  [0.8736635446548462, 0.7491018772125244, 0.5031917691230774, 0.5041965842247009]]
OFFICIAL_SUMS = {"score_map": (63.299578458070755, 63.299578458070755),
                 "size_map": (128.94486904144287, 128.94486904144287),
                 "offset_map": (-2.2810390912927687, 2.2810390912927687),
                 "backbone_feat": (4.834950042539276, 6835.648044794449)}


@pytest.fixture(scope="module")
def out():
    net = drawn_tiny_model()
    z, x, mask = drawn_inputs()
    with torch.no_grad():
        return net(z, x, ce_template_mask=mask)


def test_boxes_equal_the_official_ones(out):
    assert out["pred_boxes"].view(-1).tolist() == pytest.approx(sum(OFFICIAL_BOXES, []), abs=1e-6)


@pytest.mark.parametrize("name", sorted(OFFICIAL_SUMS))
def test_maps_and_features_equal_the_official_ones(out, name):
    total, absolute = OFFICIAL_SUMS[name]
    assert out[name].double().sum().item() == pytest.approx(total, rel=1e-5, abs=1e-5)
    assert out[name].double().abs().sum().item() == pytest.approx(absolute, rel=1e-5)
