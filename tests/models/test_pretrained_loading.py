"""Generic pre-trained loading: MAE ViT and MAE HiViT checkpoints (synthetic, with the official key names) mapped
onto the position tables each layout declares, and the report of what was used and skipped."""
import pytest
import torch
import torch.nn.functional as F

from lib.models.backbones.hivit import build_hivit
from lib.models.backbones.layout import ViTLayout
from lib.models.backbones.pretrained import load_pretrained_vit
from lib.models.backbones.vit import OneStreamViT, build_one_stream_vit

DIM, DEPTH, HEADS = 32, 2, 2


def _rand(g, *shape):
    return torch.randn(*shape, generator=g)


def mae_decoder(g, dim: int) -> dict[str, torch.Tensor]:
    """The MAE decoder entries that every MAE release carries next to the encoder (never loaded)."""
    return {"mask_token": _rand(g, 1, 1, 16), "decoder_pos_embed": _rand(g, 1, 197, 16),
            "decoder_embed.weight": _rand(g, 16, dim), "decoder_embed.bias": _rand(g, 16),
            "decoder_blocks.0.norm1.weight": _rand(g, 16), "decoder_norm.weight": _rand(g, 16),
            "decoder_pred.weight": _rand(g, 768, 16), "decoder_pred.bias": _rand(g, 768)}


def mae_vit_shapes(dim: int = DIM, depth: int = DEPTH, grid: int = 14) -> dict[str, tuple[int, ...]]:
    """Encoder entries as the MAE ViT releases name them (`mae_pretrain_vit_base.pth`: 768 wide, 12 blocks;
    `mae_pretrain_vit_large.pth`: 1024, 24), with a cls slot in the position table."""
    shapes = {"cls_token": (1, 1, dim), "pos_embed": (1, 1 + grid * grid, dim),
              "patch_embed.proj.weight": (dim, 3, 16, 16), "patch_embed.proj.bias": (dim,)}
    for i in range(depth):
        for name, shape in (("norm1", (dim,)), ("attn.qkv", (3 * dim, dim)), ("attn.proj", (dim, dim)),
                            ("norm2", (dim,)), ("mlp.fc1", (4 * dim, dim)), ("mlp.fc2", (dim, 4 * dim))):
            shapes[f"blocks.{i}.{name}.weight"] = shape
            shapes[f"blocks.{i}.{name}.bias"] = shape[:1]
    return {**shapes, "norm.weight": (dim,), "norm.bias": (dim,)}


def mae_vit(grid: int = 14, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {name: _rand(g, *shape) for name, shape in mae_vit_shapes(grid=grid).items()}


@pytest.mark.parametrize("variant, dim, depth", [("vit_base_patch16_224_ce", 768, 12),
                                                 ("vit_large_patch16_224_ce", 1024, 24)])
def test_every_backbone_entry_has_its_mae_counterpart(variant, dim, depth):
    """Full-size ViT-B and ViT-L: all but the crop tables derived from `pos_embed` load by name and shape."""
    with torch.device("meta"):
        net = build_one_stream_vit(variant, 128, 256, layout=ViTLayout(cls_token="stored"))
    own = {k: tuple(v.shape) for k, v in net.state_dict().items() if k not in ("pos_embed_z", "pos_embed_x")}
    assert own == mae_vit_shapes(dim, depth)
    assert set(net.position_parameter_names()) == {"pos_embed", "pos_embed_z", "pos_embed_x"}


def resize(grid_tokens: torch.Tensor, side: int, align_corners: bool) -> torch.Tensor:
    n = int(grid_tokens.shape[1] ** 0.5)
    image = grid_tokens.reshape(1, n, n, -1).permute(0, 3, 1, 2)
    out = F.interpolate(image, size=(side, side), mode="bicubic", align_corners=align_corners)
    return out.flatten(2).transpose(1, 2)


def vit(layout: ViTLayout, template: int = 32, search: int = 64) -> OneStreamViT:
    return OneStreamViT(template, search, embed_dim=DIM, depth=DEPTH, num_heads=HEADS, layout=layout)


def save(tmp_path, weights: dict, name: str = "mae.pth") -> str:
    path = str(tmp_path / name)
    torch.save({"model": weights}, path)
    return path


def test_joint_search_first_table_from_an_mae_vit(tmp_path):
    """SeqTrack's case: no cls token, one table [search grid; template grid], each resized with align_corners."""
    weights = mae_vit()
    net = vit(ViTLayout(num_templates=2, search_first=True, pos_embed="joint", pos_align_corners=True))
    report = load_pretrained_vit(net, save(tmp_path, {**weights, **mae_decoder(torch.Generator(), DIM)}))
    grid = weights["pos_embed"][:, 1:]
    expected = torch.cat([resize(grid, 4, True), resize(grid, 2, True)], dim=1)
    torch.testing.assert_close(net.pos_embed.detach(), expected)
    torch.testing.assert_close(net.blocks[1].mlp.fc2.weight.detach(), weights["blocks.1.mlp.fc2.weight"])
    assert report.missing == [] and report.position_source == "pos_embed"
    assert set(report.ignored) == {"cls_token"} | set(mae_decoder(torch.Generator(), DIM))
    assert "pos_embed" in report.loaded and "patch_embed.proj.weight" in report.loaded


def test_separate_tables_without_cls_slot_drop_the_checkpoint_cls(tmp_path):
    weights = mae_vit(grid=16)  # a 256-px pre-training grid: fitted to our 14 x 14 first
    net = vit(ViTLayout(num_templates=2))
    load_pretrained_vit(net, save(tmp_path, weights))
    fitted = resize(weights["pos_embed"][:, 1:], 14, False)
    torch.testing.assert_close(net.pos_embed.detach(), fitted)
    torch.testing.assert_close(net.pos_embed_z.detach(), resize(fitted, 2, False))
    torch.testing.assert_close(net.pos_embed_x.detach(), resize(fitted, 4, False))


def test_prepended_cls_token_takes_the_cls_slot(tmp_path):
    weights = mae_vit()
    net = vit(ViTLayout(cls_token="prepended"))
    report = load_pretrained_vit(net, save(tmp_path, weights))
    torch.testing.assert_close(net.cls_pos_embed.detach(), weights["pos_embed"][:, :1])
    torch.testing.assert_close(net.cls_token.detach(), weights["cls_token"])
    torch.testing.assert_close(net.pos_embed.detach(), weights["pos_embed"])
    assert report.missing == [] and report.ignored == []


def test_second_stream_embedding_is_reported_missing(tmp_path):
    net = vit(ViTLayout(cls_token="stored", in_chans=6, streams=2))
    report = load_pretrained_vit(net, save(tmp_path, mae_vit()))
    assert report.missing == ["patch_embed_multimodal.proj.bias", "patch_embed_multimodal.proj.weight"]
    assert "patch_embed_multimodal" in report.summary()


def test_wider_input_than_the_checkpoint_is_an_error_naming_the_key(tmp_path):
    net = vit(ViTLayout(in_chans=6))
    with pytest.raises(ValueError, match="'patch_embed.proj.weight' has shape"):
        load_pretrained_vit(net, save(tmp_path, mae_vit()))


def mae_hivit(net, seed: int = 0) -> dict[str, torch.Tensor]:
    """MAE HiViT-B entries (`mae_hivit_base_1600ep.pth`): `absolute_pos_embed` without cls slot, the stem and
    main blocks under the backbone's names, a `norm` over the 7x wider hierarchical feature and the decoder."""
    g = torch.Generator().manual_seed(seed)
    own = net.state_dict()
    skip = ("pos_embed_z", "pos_embed_x", "norm_")
    w = {k: _rand(g, *v.shape) for k, v in own.items() if not k.startswith(skip)}
    w["norm.weight"], w["norm.bias"] = _rand(g, 7 * net.embed_dim), _rand(g, 7 * net.embed_dim)
    return {**w, **mae_decoder(g, 7 * net.embed_dim)}


def test_mae_hivit_checkpoint_loads_into_hivit(tmp_path):
    net = build_hivit("hivit_test", 64, 128)
    weights = mae_hivit(net)
    report = load_pretrained_vit(net, save(tmp_path, weights, "mae_hivit_base_1600ep.pth"))
    state = net.state_dict()
    for key in ("absolute_pos_embed", "patch_embed.proj.weight", "patch_embed.norm.weight", "blocks.0.mlp.fc1.weight",
                "blocks.2.reduction.weight", "blocks.7.attn.qkv.weight"):
        torch.testing.assert_close(state[key], weights[key], msg=key)
    torch.testing.assert_close(state["pos_embed_z"], resize(weights["absolute_pos_embed"], 4, False))
    torch.testing.assert_close(state["pos_embed_x"], resize(weights["absolute_pos_embed"], 8, False))
    assert report.missing == ["norm_.bias", "norm_.weight"]
    assert set(report.ignored) == {"norm.weight", "norm.bias"} | set(mae_decoder(torch.Generator(), 1))
    assert report.position_source == "absolute_pos_embed"


def test_a_vit_checkpoint_shares_no_weight_with_hivit(tmp_path):
    net = build_hivit("hivit_test", 64, 128)
    with pytest.raises(ValueError, match="shares no weight"):
        load_pretrained_vit(net, save(tmp_path, {"cls_token": torch.zeros(1, 1, 64)}))
