"""The trimmed tracking step of the one-stream trackers gives what the full forward gives at the cells it reads:
the size and offset towers run at the peak cell alone, and the last ViT block for the search tokens alone (MSTGT
also: its template encoded once, its STE block for the carried tokens alone)."""
from __future__ import annotations

import pytest
import torch

from lib.families import get_family, load_config
from lib.families.mstgt.model import STEBlock
from lib.families.mstgt.tracker import MSTGTTracker
from lib.families.ostrack.tracker import OSTrackTracker
from lib.models.heads.center import CenterPredictor
from lib.models.layers.candidate_elimination import skip_eliminated_tokens
from lib.test.parameter import TrackerParams
from lib.test.tracker.base import prepare_for_inference
from lib.test.tracker.speed import randomise_norm_statistics

RTOL = 1e-5


def assert_close(out: torch.Tensor, ref: torch.Tensor) -> None:
    assert out.shape == ref.shape
    assert float((out - ref).abs().max()) <= RTOL * float(ref.abs().max())


def head(size_branch: bool, feat_sz: int = 16) -> CenterPredictor:
    torch.manual_seed(0)
    net = CenterPredictor(inplanes=48, channel=32, feat_sz=feat_sz, size_branch=size_branch).eval()
    randomise_norm_statistics(net)
    return net


def at_cells(maps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return maps.flatten(2).gather(2, index.unsqueeze(1).expand(-1, maps.shape[1], 1))


@pytest.mark.parametrize("size_branch", [True, False])
@pytest.mark.parametrize("prepared", [False, True], ids=["plain", "inference_build"])
def test_towers_at_one_cell_equal_the_full_maps_there(size_branch, prepared):
    net = head(size_branch)
    x = torch.randn(4, 48, 16, 16)
    with torch.no_grad():
        _, size, offset = net.get_score_map(x)
    # corners, an edge cell and an interior one: the window reaches past the map on every side but the last
    index = torch.tensor([[0], [16 * 16 - 1], [16 * 3 + 15], [16 * 8 + 7]])
    if prepared:
        prepare_for_inference(net)
    with torch.inference_mode():
        size_at, offset_at = net.size_offset_at(x, index)
    assert_close(size_at, at_cells(size, index))
    assert_close(offset_at, at_cells(offset, index))


@pytest.mark.parametrize("prepared", [False, True], ids=["plain", "inference_build"])
def test_score_map_from_the_kept_cells_equals_the_full_convolution(prepared):
    net = head(True)
    generator = torch.Generator().manual_seed(1)
    cells = torch.stack([torch.randperm(256, generator=generator)[:90] for _ in range(3)])
    corners = torch.tensor([0, 15, 240, 255])  # kernel cells reach past the map there
    others = torch.tensor([c for c in cells[0].tolist() if c not in corners.tolist()])
    cells[0] = torch.cat([corners, others])[:90]
    x = torch.zeros(3, 256, 48)
    x[torch.arange(3)[:, None], cells] = torch.randn(3, 90, 48, generator=generator)
    x = x.transpose(1, 2).reshape(3, 48, 16, 16)  # as the search map is made from tokens
    with torch.no_grad():
        full = net.score_map(x)
    if prepared:
        prepare_for_inference(net)
    with torch.inference_mode():
        for _ in range(2):  # the second call reuses the cached kernel rows
            assert_close(net.score_map(x, cells), full)


def test_box_at_peak_equals_cal_bbox_on_the_full_maps():
    net = head(True)
    x = torch.randn(2, 48, 16, 16)
    response = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        _, size, offset = net.get_score_map(x)
        expected, expected_peak = net.cal_bbox(response, size, offset, return_score=True)
        box, peak = net.box_at_peak(response, x)
    assert_close(box, expected)
    assert torch.equal(peak, expected_peak)


def tiny_one_stream(family: str = "ostrack", config: str = "tiny") -> torch.nn.Module:
    """A tiny eval-mode one-stream network, BatchNorm statistics randomised and candidate scores spread."""
    torch.manual_seed(0)
    net = get_family(family).build_model(load_config(family, config), False)
    randomise_norm_statistics(net)
    with torch.no_grad():  # well-separated candidate scores, so summation order cannot change the kept tokens
        for block in net.backbone.blocks:
            block.attn.qkv.weight[:2 * block.attn.qkv.in_features] *= 8
    return net.eval()


@pytest.mark.parametrize("prepared", [False, True], ids=["plain", "inference_build"])
@pytest.mark.parametrize("keep_ratio", [None, 1.0])
def test_search_only_backbone_equals_the_search_tokens_of_the_full_one(prepared, keep_ratio):
    net = tiny_one_stream()
    backbone = net.backbone
    assert backbone.trims_last_block(keep_ratio)
    z, x = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        full, full_aux = backbone(z, x, keep_ratio=keep_ratio)
    if prepared:
        prepare_for_inference(net)
    with torch.inference_mode():
        search, aux = backbone(z, x, keep_ratio=keep_ratio, search_only=True)
    assert_close(search, backbone.search_tokens(full))
    assert len(aux["removed_indexes_s"]) == len(full_aux["removed_indexes_s"]) == (2 if keep_ratio is None else 0)
    for ours, ref in zip(aux["removed_indexes_s"], full_aux["removed_indexes_s"]):
        assert torch.equal(ours, ref)


def test_last_block_with_candidate_elimination_is_not_trimmed():
    torch.manual_seed(0)
    cfg = load_config("ostrack", "tiny", opts=["MODEL.BACKBONE.CE_LOC", "[1, 3]"])
    net = get_family("ostrack").build_model(cfg, False).eval()
    assert not net.backbone.trims_last_block(None)
    z, x = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        full, _ = net.backbone(z, x)
        search, _ = net.backbone(z, x, search_only=True)
    assert torch.equal(search, net.backbone.search_tokens(full))


@pytest.mark.parametrize("weight", [1.0, 0.0])
def test_tracker_step_box_equals_the_full_forward_box(weight):
    net = tiny_one_stream()
    params = TrackerParams.create("ostrack", "tiny", load_weights=False, opts=["TEST.WINDOW_WEIGHT", str(weight)])
    tracker = OSTrackTracker(params, net=prepare_for_inference(net))
    z, x = torch.randn(3, 3, 64, 64), torch.randn(3, 3, 128, 128)
    with torch.inference_mode():
        full = tracker.locate(net(z, x))
        step = tracker.forward_tensors(net.backbone.embed_templates(z), x, None)
    assert "size_map" not in step and "backbone_feat" not in step
    assert step["search_cells"].shape[0] == 3  # candidate elimination ran: the score map came from the kept cells
    assert_close(step["score_map"], full["score_map"])
    assert_close(step["peak_box"], full["peak_box"])
    assert_close(step["peak_score"], full["peak_score"])


def test_eliminating_blocks_of_the_inference_build_equal_the_plain_path():
    """In the test-time build a CE block computes attention outputs and the projection for the tokens it keeps
    only (in eval mode); the plain eval model keeps the official path, whose FLOPs the profiles report."""
    net = tiny_one_stream()
    z, x = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        full, full_aux = net.backbone(z, x)
    assert skip_eliminated_tokens(net) == 4
    with torch.no_grad():
        kept, aux = net.backbone(z, x)
    assert all(block.skip_eliminated for block in net.backbone.blocks)
    assert len(aux["removed_indexes_s"]) == 2
    for ours, ref in zip(aux["removed_indexes_s"], full_aux["removed_indexes_s"]):
        assert torch.equal(ours, ref)
    assert_close(kept, full)


@pytest.mark.parametrize("length, count", [(384, 64), (96, 16), (12, 5)])
def test_ste_head_equals_the_first_outputs_of_the_full_block(length, count):
    torch.manual_seed(0)
    block = STEBlock(dim=32, num_heads=4, mlp_ratio=2.0, norm_layer=torch.nn.LayerNorm).eval()
    x = torch.randn(2, length, 32)
    with torch.no_grad():
        assert_close(block.forward_head(x, count), block(x)[:, :count])


@pytest.mark.parametrize("prepared", [False, True], ids=["plain", "inference_build"])
def test_mstgt_tracking_step_equals_the_full_forward_over_frames(prepared):
    torch.manual_seed(0)
    net = get_family("mstgt").build_model(load_config("mstgt", "tiny"), False)
    randomise_norm_statistics(net)
    net.eval()
    params = TrackerParams.create("mstgt", "tiny", load_weights=False)
    tracker = MSTGTTracker(params, net=prepare_for_inference(net) if prepared else net)
    z = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        prompt, template_tokens = net.backbone.encode_template(z)
        stt_full = stt_step = None
        for _ in range(3):  # the first frame starts the carried tokens, the others carry them
            x = torch.randn(2, 3, 128, 128)
            full = tracker.locate(net(z, x, stt_full))
            step = tracker.forward_tensors(prompt, template_tokens, x, stt_step)
            assert "size_map" not in step
            for key in ("score_map", "peak_box", "peak_score", "stt"):
                assert_close(step[key], full[key])
            stt_full, stt_step = full["stt"], step["stt"]


def test_sdstrack_test_time_build_equals_the_plain_path():
    """SDSTrack's test-time build: each stream's eliminating blocks for the kept tokens alone, the fusion attention
    as two unmasked attentions (one per direction) instead of a masked one over both modalities."""
    net = tiny_one_stream("sdstrack", "tiny_rgbd")
    z, x = torch.randn(2, 6, 64, 64), torch.randn(2, 6, 128, 128)
    with torch.no_grad():
        full = net(z, x)
        assert skip_eliminated_tokens(net) == len(net.backbone.blocks)
        fast = net(z, x)
    for ours, ref in zip(fast["removed_indexes_streams"], full["removed_indexes_streams"]):
        assert len(ours) == len(ref) > 0
        assert all(torch.equal(a, b) for a, b in zip(ours, ref))
    for key in ("backbone_feat", "score_map", "pred_boxes"):
        assert_close(fast[key], full[key])
    for ours, ref in zip(fast["distill_features"], full["distill_features"]):
        assert_close(ours, ref)


def test_sdstrack_tracking_step_fuses_the_search_rows_alone_at_the_last_pass():
    """The score-only step (what the tracker runs): the last fusion pass, after which only search tokens are read,
    takes the queries, projection and MLP of the search rows only; the score map is the full forward's."""
    net = tiny_one_stream("sdstrack", "tiny_rgbd")
    z, x = torch.randn(2, 6, 64, 64), torch.randn(2, 6, 128, 128)
    rows = []
    net.backbone.blocks[-1].mlp.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[1]))
    with torch.no_grad():
        full = net(z, x)
        skip_eliminated_tokens(net)
        step = net(z, x, score_only=True)
    template = net.backbone.num_template_tokens
    assert rows[-1] == rows[len(rows) // 2 - 1] - 2 * template  # the last pass: each modality's template rows out
    assert_close(step["score_map"], full["score_map"])
    assert_close(step["head_input"], net.search_map(full["backbone_feat"]))


@pytest.mark.parametrize("prepared", [False, True], ids=["plain", "inference_build"])
def test_seqtrack_search_only_encoder_gives_the_decoder_the_same_memory_and_tokens(prepared):
    """Search first in SeqTrack's sequence: the last block runs the leading search tokens alone."""
    torch.manual_seed(0)
    cfg = load_config("seqtrack", "tiny")
    net = get_family("seqtrack").build_model(cfg, False).eval()
    assert net.encoder.body.trims_last_block(None)
    size_z, size_x = cfg.DATA.TEMPLATE.SIZE, cfg.DATA.SEARCH.SIZE
    images = [torch.randn(2, 3, size_z, size_z) for _ in range(cfg.DATA.TEMPLATE.NUMBER)]
    images.append(torch.randn(2, 3, size_x, size_x))
    start = torch.full((2, 1), cfg.MODEL.BINS + 1)
    with torch.no_grad():
        full = net.forward_encoder(images)
        expected = net.inference_decoder(full, start)
    if prepared:
        prepare_for_inference(net)
    with torch.inference_mode():
        search = net.forward_encoder(images, search_only=True)
        out = net.inference_decoder(search, start)
    assert_close(search[0], full[0][:, :net.num_patch_x])
    assert torch.equal(out["pred_boxes"], expected["pred_boxes"])
    assert_close(out["confidence"], expected["confidence"])
