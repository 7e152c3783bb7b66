"""MSTGT behaviour the conformance suite does not cover: the random search-area factor and border placement, the
STE attention's triplet structure, the reset / carry rule of the spatio-temporal tokens, the authors' key names."""
import math
import random

import torch

from lib.families import get_family, load_config
from lib.families.mstgt import AUTHOR_KEY_ALIASES
from lib.families.mstgt.model import TripletAttention
from lib.train.data.processing import TrackingProcessing, _border_box

GT = (100.0, 80.0, 40.0, 20.0)


def _processing(border_prob: float) -> TrackingProcessing:
    return TrackingProcessing({"template": 2.0, "search": 4.0}, {"template": 64, "search": 128},
                              {"template": 0.0, "search": 3.5}, {"template": 0.0, "search": 0.5},
                              {"template": None, "search": None}, search_factor_range=(2.0, 6.0),
                              border_prob=border_prob)


def test_random_factor_keeps_every_target_centre_inside_the_crop():
    proc, rng = _processing(0.0), random.Random(0)
    factors = []
    for _ in range(300):
        gts = [GT, (110.0, 90.0, 30.0, 30.0)]
        jittered, factor = proc._random_search_area(gts, rng)
        factors.append(factor)
        assert 2.0 <= factor <= 6.0
        shift = max(abs(j[i] + j[i + 2] / 2 - g[i] - g[i + 2] / 2) for j, g in zip(jittered, gts) for i in (0, 1))
        # With these boxes a valid jitter is always found: half the crop covers every centre's shift.
        assert shift * 2 / math.sqrt(jittered[0][2] * jittered[0][3]) <= factor + 1e-9
    assert max(factors) - min(factors) > 2.0  # the factor is drawn, not fixed


def test_border_box_puts_the_target_at_a_crop_border():
    rng = random.Random(1)
    for _ in range(200):
        box = _border_box(GT, 4.0, rng)
        side = math.ceil(math.sqrt(GT[2] * GT[3]) * 4.0)
        assert math.isclose(box[2] * 4.0, side)  # the crop side is the official one
        crop_cx, crop_cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        dx, dy = GT[0] + GT[2] / 2 - crop_cx, GT[1] + GT[3] / 2 - crop_cy
        # One axis sits within a quarter of the target's extent of the border, the other stays inside.
        near_x = abs(abs(dx) - side / 2) <= GT[2] / 4 + 1
        near_y = abs(abs(dy) - side / 2) <= GT[3] / 4 + 1
        assert near_x or near_y


def test_processing_without_the_range_keeps_the_fixed_factor():
    proc = TrackingProcessing({"template": 2.0, "search": 4.0}, {"template": 64, "search": 128},
                              {"template": 0.0, "search": 0.0}, {"template": 0.0, "search": 0.0},
                              {"template": None, "search": None})
    frames = [torch.zeros(300, 300, 3).numpy()]
    geometry = proc._crop_boxes("search", frames, [GT], type("A", (), {"mirrored": False})(), random.Random(0))
    assert geometry[0][2] == math.ceil(math.sqrt(GT[2] * GT[3]) * 4.0)


def test_triplet_attention_mixes_only_tokens_a_third_apart():
    torch.manual_seed(0)
    attn = TripletAttention(dim=16, num_heads=4).eval()
    x = torch.randn(1, 12, 16)
    base = attn(x)
    y = x.clone()
    y[0, 1] += 1.0  # token 1's triplet is {1, 5, 9}
    changed = (attn(y) - base).abs().sum(-1)[0] > 1e-6
    # Attention stays inside triplets: a change reaches some output rows, never all of them.
    assert changed.any() and not changed.all()


def test_stt_starts_from_the_template_tokens_and_is_returned_for_the_next_frame():
    cfg = load_config("mstgt", "tiny")
    torch.manual_seed(0)
    net = get_family("mstgt").build_model(cfg, False).eval()
    z, x1, x2 = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 128, 128), torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        z_tokens = net.backbone.patch_tokens(z) + net.backbone.pos_embed_z
        first = net(z, x1)
        assert torch.equal(first["pred_boxes"], net(z, x1, z_tokens)["pred_boxes"])
        second = net(z, x2, first["stt"])
        chained = net(z, [x1, x2])  # training: the chain over the crops in one call
    assert torch.allclose(chained["pred_boxes"][1], second["pred_boxes"][0], atol=1e-5)
    assert not torch.allclose(second["stt"], first["stt"])


def test_authors_key_names_load_through_the_declared_rename():
    cfg = load_config("mstgt", "tiny")
    family = get_family("mstgt")
    net = family.build_model(cfg, False)
    state = net.state_dict()
    authors = {{v: k for k, v in AUTHOR_KEY_ALIASES.items()}.get(k, k): v for k, v in state.items()}
    assert "backbone.MSPG.weight" in authors and "backbone.MSVC.weight" not in authors
    net.load_state_dict(family.adapt_state_dict(authors), strict=True)


def test_mae_hivit_file_loads_into_the_backbone_and_a_missing_one_is_a_user_error(tmp_path):
    import pytest

    from lib.families.mstgt.model import build_mstgt
    from lib.utils.cli import UserError

    cfg = load_config("mstgt", "tiny", opts=["MODEL.PRETRAIN_FILE", "mae_hivit_base_1600ep.pth"])
    with pytest.raises(UserError, match="MODEL.PRETRAIN_FILE"):
        build_mstgt(cfg, True, pretrained_folder=str(tmp_path))
    torch.manual_seed(1)
    source = get_family("mstgt").build_model(load_config("mstgt", "tiny"), False)
    mae = {k[len("backbone."):]: v for k, v in source.state_dict().items()
           if k.startswith("backbone.") and not k.startswith("backbone.pos_embed_")}
    torch.save({"model": mae}, tmp_path / "mae_hivit_base_1600ep.pth")
    net = build_mstgt(cfg, True, pretrained_folder=str(tmp_path))
    assert torch.equal(net.backbone.blocks[0].mlp.fc1.weight, source.backbone.blocks[0].mlp.fc1.weight)
    assert torch.equal(net.backbone.pos_embed_x, source.backbone.pos_embed_x)  # derived from absolute_pos_embed
