"""OSTrack network: candidate elimination, equality with a reference forward, the center head's decoding,
forward/backward, and the torch FLOPs of the full-size models (their state dicts, parameter counts and thop MACs
are checked against the official manifests by tests/conformance)."""
import functools

import pytest
import torch

from lib.families import get_family, load_config
from lib.models.backbones.vit import build_one_stream_vit
from lib.models.heads.center import CenterPredictor
from lib.models.layers.candidate_elimination import template_token_mask
from lib.utils.profiling import ProfileStep, torch_flops
from tests.fixtures.manifests import reference_manifest

FULL_SIZE = ["vitb_256_mae_ce_32x4_ep300", "vitb_384_mae_ce_32x4_ep300"]


@functools.lru_cache(maxsize=None)
def build_on_meta(config: str) -> tuple:
    """The full-size model without allocating or initialising weights (shapes and FLOPs only)."""
    cfg = load_config("ostrack", config)
    with torch.device("meta"):
        net = get_family("ostrack").build_model(cfg, False)
    return cfg, net.eval()


@pytest.fixture(scope="module")
def meta_models():
    return {config: build_on_meta(config) for config in FULL_SIZE}


def test_thop_parameter_count_of_the_issue(meta_models):
    """The totals are checked against the manifests by tests/conformance. thop's "params" sums leaf modules only
    (no cls token or position embeddings): 92.12 M for both sizes."""
    net256 = meta_models["vitb_256_mae_ce_32x4_ep300"][1]
    leaf = sum(p.numel() for m in net256.modules() if not list(m.children()) for p in m.parameters(recurse=False))
    assert leaf == 92_120_709


@pytest.mark.parametrize("config, counts", [("vitb_256_mae_ce_32x4_ep300", [256, 180, 126, 89]),
                                            ("vitb_384_mae_ce_32x4_ep300", [576, 404, 283, 199])])
def test_candidate_elimination_token_counts(meta_models, config, counts):
    cfg, net = meta_models[config]
    z = torch.zeros(2, 3, cfg.TEST.TEMPLATE_SIZE, cfg.TEST.TEMPLATE_SIZE, device="meta")
    x = torch.zeros(2, 3, cfg.TEST.SEARCH_SIZE, cfg.TEST.SEARCH_SIZE, device="meta")
    with torch.no_grad():
        out = net(z, x)
    removed = [r.shape[1] for r in out["removed_indexes_s"]]
    assert removed == [a - b for a, b in zip(counts, counts[1:])]
    assert out["backbone_feat"].shape[1] == (cfg.TEST.TEMPLATE_SIZE // 16) ** 2 + counts[0]


def _attention_flops(tokens: list[int], rows: int, dim: int = 768) -> int:
    """FLOPs (2 per multiply-add) of q_rows @ k^T over all heads, summed over the CE blocks' token counts."""
    return sum(2 * rows * n * dim for n in tokens)


@pytest.mark.parametrize("config, manifest, template_tokens, ce_tokens",
                         [("vitb_256_mae_ce_32x4_ep300", "ostrack256.json", 64, [256, 180, 126]),
                          ("vitb_384_mae_ce_32x4_ep300", "ostrack384.json", 144, [576, 404, 283])])
def test_torch_flops_add_the_template_rows_that_ce_scores_separately(meta_models, config, manifest, template_tokens,
                                                                      ce_tokens):
    """thop MACs are checked against the manifests by tests/conformance. torch FLOPs equal the manifest plus the
    template rows that our CE blocks score separately (the reference reuses its full attention matrix): every
    template row without a template mask."""
    cfg, net = meta_models[config]
    z = torch.zeros(1, 3, cfg.TEST.TEMPLATE_SIZE, cfg.TEST.TEMPLATE_SIZE, device="meta")
    x = torch.zeros(1, 3, cfg.TEST.SEARCH_SIZE, cfg.TEST.SEARCH_SIZE, device="meta")
    step = ProfileStep("forward", net, args=(z, x))
    extra = _attention_flops([template_tokens + n for n in ce_tokens], rows=template_tokens)
    assert torch_flops(step) == reference_manifest(manifest)["flops_per_tracking_step_torch_flop_counter"] + extra


def test_tracking_step_inputs_and_ce_template_point(tiny_cfg):
    template, search, mask = get_family("ostrack").dummy_inputs(tiny_cfg, "cpu")
    assert template.shape == (1, 3, 64, 64) and search.shape == (1, 3, 128, 128)
    # CTR_POINT on the 4x4 template grid is the token (1, 1); on 8x8 (128 px) it is (3, 3), on 12x12 (5, 5).
    assert mask.shape == (1, 16) and mask.nonzero()[:, 1].tolist() == [1 * 4 + 1]
    assert template_token_mask("CTR_POINT", 128, 16, 1, "cpu").nonzero()[:, 1].tolist() == [3 * 8 + 3]
    assert template_token_mask("CTR_POINT", 192, 16, 1, "cpu").nonzero()[:, 1].tolist() == [5 * 12 + 5]
    assert template_token_mask("CTR_REC", 128, 16, 1, "cpu").nonzero()[:, 1].tolist() == [27, 28, 35, 36]
    assert template_token_mask("ALL", 128, 16, 1, "cpu") is None


def _check_against_reference(net, cfg, reference, mask_rows, keep_rate):
    backbone = cfg.MODEL.BACKBONE
    z, x = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 128, 128)
    mask = None
    if mask_rows is not None:
        mask = torch.zeros(2, 16, dtype=torch.bool)
        mask[:, mask_rows] = True
    with torch.no_grad():
        out = net(z, x, ce_template_mask=mask, ce_keep_rate=keep_rate)
    ref = reference.forward(net.state_dict(), z, x, depth=4, heads=2, ce_loc=backbone.CE_LOC,
                            ce_keep_ratio=backbone.CE_KEEP_RATIO, template_rows=mask_rows, keep_rate=keep_rate)
    for key in ("score_map", "size_map", "offset_map"):
        torch.testing.assert_close(out[key], ref[key], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out["pred_boxes"][:, 0], ref["box"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out["backbone_feat"][:, 16:], ref["search_feat"], rtol=1e-4, atol=1e-5)
    ours_removed = [[sorted(r[b].tolist()) for r in out["removed_indexes_s"]] for b in range(2)]
    assert ours_removed == ref["removed"]
    return ours_removed


@pytest.mark.parametrize("mask_rows, keep_rate", [([5], None), (None, None), ([5, 6, 9, 10], 0.5), ([5], 1.0)])
def test_forward_equals_reference_implementation(tiny_net, tiny_cfg, reference, mask_rows, keep_rate):
    torch.manual_seed(1)
    removed = _check_against_reference(tiny_net, tiny_cfg, reference, mask_rows, keep_rate)
    # 64 search tokens, CE after blocks 1 and 2: 64 -> 45 -> 32 at 0.7, 64 -> 32 -> 16 at 0.5, none at 1.0.
    expected = {None: [19, 13], 0.5: [32, 16], 1.0: []}[keep_rate]
    assert [len(r) for r in removed[0]] == expected


def test_eliminated_positions_are_zero_and_template_tokens_kept(tiny_net):
    z, x = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        out = tiny_net(z, x)
    feat = out["backbone_feat"][0]
    removed = torch.cat(out["removed_indexes_s"], dim=1)[0]
    search = feat[16:]
    assert torch.all(search[removed] == 0)
    kept = sorted(set(range(64)) - set(removed.tolist()))
    assert len(kept) == 32 and torch.all(search[kept].abs().sum(dim=1) > 0)
    assert torch.all(feat[:16].abs().sum(dim=1) > 0)


def test_forward_backward_reaches_every_used_parameter(tiny_cfg):
    torch.manual_seed(0)
    net = get_family("ostrack").build_model(tiny_cfg, True).train()
    out = net(torch.randn(2, 3, 64, 64), torch.randn(2, 3, 128, 128), ce_keep_rate=0.8)
    loss = out["score_map"].mean() + out["pred_boxes"].sum()
    loss.backward()
    unused = {"backbone.cls_token", "backbone.pos_embed"}
    no_grad = [n for n, p in net.named_parameters() if p.grad is None and n not in unused]
    assert not no_grad
    assert all(net.get_parameter(n).grad is None for n in unused)
    assert {n.split(".")[0] for n, _ in net.named_parameters()} == {"backbone", "box_head"}


def test_center_head_box_decoding_by_hand():
    head = CenterPredictor(inplanes=8, channel=16, feat_sz=4)
    score = torch.full((1, 1, 4, 4), 0.1)
    score[0, 0, 2, 3] = 0.9  # row y = 2, column x = 3
    size = torch.zeros(1, 2, 4, 4)
    size[0, :, 2, 3] = torch.tensor([0.25, 0.5])
    offset = torch.zeros(1, 2, 4, 4)
    offset[0, :, 2, 3] = torch.tensor([0.5, -0.25])
    box, best = head.cal_bbox(score, size, offset, return_score=True)
    torch.testing.assert_close(box, torch.tensor([[(3 + 0.5) / 4, (2 - 0.25) / 4, 0.25, 0.5]]))
    assert best.item() == pytest.approx(0.9)


def test_center_head_without_size_branch():
    """The 4-channel offset variant: no size tower, channels 2-3 of the offset tower are the size."""
    head = CenterPredictor(inplanes=8, channel=16, feat_sz=4, size_branch=False).eval()
    keys = head.state_dict().keys()
    assert not any("_size" in k for k in keys)
    assert head.conv5_offset.weight.shape == (4, 2, 1, 1)
    with torch.no_grad():
        score, box, size, offset = head(torch.randn(1, 8, 4, 4))
        raw = head._tower("offset", torch.zeros(1, 8, 4, 4))
    assert size.shape == offset.shape == (1, 2, 4, 4)
    assert torch.all((size >= 1e-4) & (size <= 1 - 1e-4))
    assert raw.shape[1] == 4


def test_score_prior_sets_only_the_score_bias():
    """The opt-in focal-loss prior leaves every other initial value as the official initialisation makes it."""
    torch.manual_seed(0)
    official = CenterPredictor(inplanes=8, channel=16, feat_sz=4).state_dict()
    torch.manual_seed(0)
    primed = CenterPredictor(inplanes=8, channel=16, feat_sz=4, score_prior=0.01).state_dict()
    changed = [k for k in official if not torch.equal(official[k], primed[k])]
    assert changed == ["conv5_ctr.bias"]
    assert torch.sigmoid(primed["conv5_ctr.bias"]).item() == pytest.approx(0.01)
    with pytest.raises(ValueError, match="score_prior"):
        CenterPredictor(inplanes=8, channel=16, feat_sz=4, score_prior=1.0)


def test_score_prior_comes_from_the_config(tiny_cfg):
    cfg = tiny_cfg.clone()
    cfg.MODEL.HEAD.SCORE_PRIOR = 0.1
    head = get_family("ostrack").build_model(cfg, False).box_head
    assert torch.sigmoid(head.conv5_ctr.bias).item() == pytest.approx(0.1)
    cfg.MODEL.HEAD.SCORE_PRIOR = 1.5
    with pytest.raises(ValueError, match="MODEL.HEAD.SCORE_PRIOR"):
        get_family("ostrack").build_model(cfg, False)


def test_unsupported_official_options_are_rejected(tiny_cfg):
    cfg = tiny_cfg.clone()
    cfg.MODEL.BACKBONE.CAT_MODE = "template_central"
    with pytest.raises(ValueError, match="CAT_MODE"):
        get_family("ostrack").build_model(cfg, False)
    cfg = tiny_cfg.clone()
    cfg.MODEL.BACKBONE.TYPE = "vit_base_patch16_224"
    with pytest.raises(ValueError, match="no candidate elimination"):
        get_family("ostrack").build_model(cfg, False)
    cfg.MODEL.BACKBONE.TYPE = "vit_huge"
    with pytest.raises(KeyError, match="vit_base_patch16_224_ce"):
        get_family("ostrack").build_model(cfg, False)


def test_crop_position_embeddings_are_bicubic_resizes_of_the_224_grid(tiny_net):
    grid = tiny_net.backbone.pos_embed[:, 1:].detach().reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
    for param, side in ((tiny_net.backbone.pos_embed_z, 4), (tiny_net.backbone.pos_embed_x, 8)):
        expected = torch.nn.functional.interpolate(grid, size=(side, side), mode="bicubic", align_corners=False)
        torch.testing.assert_close(param.detach(), expected.flatten(2).transpose(1, 2))


def test_score_and_size_maps_stay_below_one_under_low_precision_autocast():
    """log(1 - p) in the focal loss needs p < 1, which bf16/fp16 cannot represent at 1 - 1e-4."""
    head = CenterPredictor(inplanes=8, channel=16, feat_sz=4)
    with torch.no_grad():
        for conv in (head.conv5_ctr, head.conv5_size):
            conv.bias.fill_(50.0)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            score, _, size, _ = head(torch.randn(2, 8, 4, 4))
    assert score.dtype == size.dtype == torch.float32
    assert torch.all(score < 1) and torch.all(size < 1)


def test_variant_without_candidate_elimination_keeps_every_token():
    with torch.device("meta"):
        backbone = build_one_stream_vit("vit_base_patch16_224", 128, 256).eval()
    with torch.no_grad():
        feat, aux = backbone(torch.zeros(1, 3, 128, 128, device="meta"), torch.zeros(1, 3, 256, 256, device="meta"),
                             keep_ratio=0.7)
    assert aux["removed_indexes_s"] == [] and feat.shape == (1, 64 + 256, 768)
