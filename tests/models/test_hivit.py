"""HiViT backbone: the official MSTGT backbone names (its own modules stood in for by modules of the same names and
shapes), and a tiny variant's forward against a functional reading of the official stem and main stage."""
import json
import pathlib

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models.vision_transformer import Block

from lib.models.backbones.hivit import build_hivit
from lib.models.backbones.layout import ViTLayout

MANIFEST = json.loads((pathlib.Path(__file__).parent / "manifests" / "mstgt_256.json").read_text())
# What the MSTGT family adds to the backbone (its prompt encoders and the unused dynamic-crop table).
MSTGT_ONLY = ("patch_embed14.", "patch_embed16.", "patch_embed18.", "STE_norm.", "STE.", "MSVC.", "MSTG.",
              "pos_embed_d")


def official_backbone(exclude: tuple[str, ...] = ()) -> list[tuple[str, list[int]]]:
    return [(e["key"][len("backbone."):], e["shape"]) for e in MANIFEST["state_dict"]
            if e["key"].startswith("backbone.") and not e["key"][len("backbone."):].startswith(exclude)]


def shapes(module: nn.Module) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in module.state_dict().items()]


def mstgt_stand_ins(dim: int = 512) -> dict[str, nn.Module]:
    """Modules with MSTGT's names and shapes, to show where a family's modules land in the state dict."""
    def conv_embed(size):
        m = nn.Module()
        m.proj = nn.Conv2d(3, dim, size, size)
        return m
    return {"patch_embed14": conv_embed(14), "patch_embed16": conv_embed(16), "patch_embed18": conv_embed(18),
            "STE_norm": nn.LayerNorm(dim), "STE": Block(dim, 8, qkv_bias=True),
            "MSVC": nn.Linear(dim, dim, bias=False), "MSTG": nn.Linear(dim, dim, bias=False)}


def test_hivit_base_names_match_the_mstgt_backbone_without_its_own_modules():
    with torch.device("meta"):
        net = build_hivit("hivit_base", 128, 256)
    assert shapes(net) == official_backbone(exclude=MSTGT_ONLY)
    assert len(net.blocks) == 30 and net.num_main_blocks == 20


def test_family_modules_land_where_the_official_state_dict_lists_them():
    with torch.device("meta"):
        net = build_hivit("hivit_base", 128, 256, extra_modules=mstgt_stand_ins())
        net.pos_embed_d = nn.Parameter(torch.zeros(1, 144, 512))
    assert shapes(net) == official_backbone()
    assert sum(p.numel() for p in net.parameters()) == MANIFEST["parameters_per_top_level_module"]["backbone"]


def _ln(x, sd, prefix):
    return F.layer_norm(x, (x.shape[-1],), sd[prefix + ".weight"], sd[prefix + ".bias"], eps=1e-6)


def _mlp(x, sd, prefix):
    hidden = F.gelu(x @ sd[prefix + ".fc1.weight"].T + sd[prefix + ".fc1.bias"])
    return hidden @ sd[prefix + ".fc2.weight"].T + sd[prefix + ".fc2.bias"]


def reference_stem(sd: dict, image: torch.Tensor, depths=(1, 1)) -> torch.Tensor:
    """The official stem: conv 4x4 -> view (B, C, h, 4, w, 4) -> (B, h*w, 4, 4, C), LayerNorm, MLP blocks,
    merges concatenating [even row/even col, odd/even, even/odd, odd/odd]; then the (0, 0) inner token."""
    x = F.conv2d(image, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=4)
    b, c, h4, w4 = x.shape
    x = x.view(b, c, h4 // 4, 4, w4 // 4, 4).permute(0, 2, 4, 3, 5, 1).reshape(b, -1, 4, 4, c)
    x = _ln(x, sd, "patch_embed.norm")
    index = 0
    for depth in depths:
        for _ in range(2 * depth):
            x = x + _mlp(_ln(x, sd, f"blocks.{index}.norm2"), sd, f"blocks.{index}.mlp")
            index += 1
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        x = _ln(x, sd, f"blocks.{index}.norm") @ sd[f"blocks.{index}.reduction.weight"].T
        index += 1
    return x[..., 0, 0, :]


def reference_main(sd: dict, x: torch.Tensor, first: int, count: int, heads: int) -> torch.Tensor:
    for i in range(first, first + count):
        p = f"blocks.{i}."
        y = _ln(x, sd, p + "norm1")
        b, n, c = y.shape
        qkv = (y @ sd[p + "attn.qkv.weight"].T + sd[p + "attn.qkv.bias"]).reshape(b, n, 3, heads, c // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = ((q * (c // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        y = (attn @ v).transpose(1, 2).reshape(b, n, c)
        x = x + y @ sd[p + "attn.proj.weight"].T + sd[p + "attn.proj.bias"]
        x = x + _mlp(_ln(x, sd, p + "norm2"), sd, p + "mlp")
    return _ln(x, sd, "norm_")


def test_tiny_forward_equals_the_official_computation():
    torch.manual_seed(0)
    net = build_hivit("hivit_test", 64, 128).eval()
    with torch.no_grad():  # non-trivial norms, so a wrong parameter pairing shows
        for name, p in net.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    z, x = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        feat, aux = net(z, x)
    assert feat.shape == (2, 16 + 64, 64) and aux == {"removed_indexes_s": []}
    sd = net.state_dict()
    tokens = torch.cat([reference_stem(sd, z) + sd["pos_embed_z"], reference_stem(sd, x) + sd["pos_embed_x"]], 1)
    expected = reference_main(sd, tokens, first=len(net.blocks) - 2, count=2, heads=2)
    torch.testing.assert_close(feat, expected, rtol=1e-4, atol=1e-5)


def test_tiny_forward_backward_with_a_carried_token_layout():
    torch.manual_seed(0)
    net = build_hivit("hivit_test", 64, 128, layout=ViTLayout(num_templates=2, search_first=True, extra_tokens=4))
    carried = torch.zeros(1, 4, 64)
    feat, aux = net([torch.randn(1, 3, 64, 64)] * 2, torch.randn(1, 3, 128, 128), extra_tokens=carried)
    assert feat.shape == (1, 64 + 2 * 16, 64) and aux["extra_tokens"].shape == (1, 4, 64)
    (feat.sum() + aux["extra_tokens"].sum()).backward()
    assert net.patch_embed.proj.weight.grad.abs().sum() > 0 and net.blocks[0].mlp.fc1.weight.grad is not None


@pytest.mark.parametrize("layout", [ViTLayout(cls_token="stored"), ViTLayout(in_chans=6, streams=2)])
def test_layouts_hivit_cannot_take_are_rejected(layout):
    with pytest.raises(ValueError, match="HiViT"):
        build_hivit("hivit_test", 64, 128, layout=layout)
