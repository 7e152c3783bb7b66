"""ViT backbones by declared layout: token order, several templates, cls-token modes, joint or separate position
tables, N-channel input, carried tokens and two input streams; official names for the SeqTrack and SDSTrack
encoders. (OSTrack's layout is checked against an independent reference in tests/families/ostrack.)"""

import pytest
import torch
import torch.nn as nn

from lib.models.backbones.layout import ViTLayout
from tests.fixtures.manifests import reference_manifest
from lib.models.backbones.vit import OneStreamViT, build_one_stream_vit
from lib.models.layers.candidate_elimination import CEBlock

TINY = dict(patch_size=16, embed_dim=32, depth=2, num_heads=2)
# The fixture layout of issue 15: two templates, search first, RGB + auxiliary modality in 6 channels.
FIXTURE_LAYOUT = ViTLayout(num_templates=2, search_first=True, in_chans=6)


def tiny_vit(layout: ViTLayout, template: int = 32, search: int = 64, **kwargs) -> OneStreamViT:
    return OneStreamViT(template, search, layout=layout, **TINY, **kwargs).eval()


def manifest_entries(name: str, prefix: str, exclude: tuple[str, ...] = ()) -> list[tuple[str, list[int]]]:
    manifest = reference_manifest(f"{name}.json")
    return [(e["key"][len(prefix):], e["shape"]) for e in manifest["state_dict"]
            if e["key"].startswith(prefix) and not e["key"][len(prefix):].startswith(exclude)]


def shapes(module: nn.Module) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in module.state_dict().items()]


def test_fixture_layout_builds_and_runs_forward():
    torch.manual_seed(0)
    net = tiny_vit(FIXTURE_LAYOUT)
    assert net.patch_embed.proj.weight.shape == (32, 6, 16, 16)
    z1, z2, x = torch.randn(2, 6, 32, 32), torch.randn(2, 6, 32, 32), torch.randn(2, 6, 64, 64)
    feat, aux = net([z1, z2], x)
    assert feat.shape == (2, 16 + 2 * 4, 32) and aux == {"removed_indexes_s": []}
    assert net.search_start() == 0 and net.search_tokens(feat).shape == (2, 16, 32)
    with torch.no_grad():  # templates stacked as the data loader stacks them
        torch.testing.assert_close(net(torch.stack([z1, z2]), x)[0], feat, rtol=0, atol=0)
    feat.sum().backward()
    assert all(p.grad is not None for n, p in net.named_parameters() if n not in ("pos_embed",))


@pytest.mark.parametrize("layout", [FIXTURE_LAYOUT, ViTLayout(cls_token="prepended"),
                                    ViTLayout(in_chans=6, streams=2)], ids=["fixture", "cls", "two_streams"])
def test_template_tokens_embedded_before_give_the_same_forward(layout):
    """What a tracker does once per template (embed_templates / template_tokens) and passes to every frame."""
    torch.manual_seed(0)
    net = tiny_vit(layout)
    channels = layout.in_chans
    templates = [torch.randn(2, channels, 32, 32) for _ in range(layout.num_templates)]
    x = torch.randn(2, channels, 64, 64)
    with torch.no_grad():
        expected, _ = net(templates, x)
        tokens = net.embed_templates(templates)
        feat, _ = net(None, x, template_tokens=tokens)
        one_by_one = torch.cat([net.template_tokens(t) for t in templates], dim=2)
    assert tokens.shape == (layout.streams, 2, layout.num_templates * 4, 32)
    assert torch.equal(one_by_one, tokens)
    assert torch.equal(feat, expected)
    with pytest.raises(ValueError, match="template_tokens"):
        net(None, x, template_tokens=tokens[:, :, 1:])


def test_search_first_is_a_permutation_of_template_first():
    """Attention is permutation-equivariant, so the same weights give the same tokens, reordered."""
    torch.manual_seed(0)
    first = tiny_vit(ViTLayout(num_templates=2, search_first=True))
    last = tiny_vit(ViTLayout(num_templates=2, search_first=False))
    last.load_state_dict(first.state_dict())
    z1, z2, x = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32), torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, _ = first([z1, z2], x)
        b, _ = last([z1, z2], x)
    torch.testing.assert_close(a[:, :16], b[:, 8:], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a[:, 16:], b[:, :8], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(first.search_tokens(a), last.search_tokens(b), rtol=1e-5, atol=1e-5)


def test_templates_share_one_position_table():
    """Two identical template crops get identical inputs, hence identical output tokens."""
    net = tiny_vit(ViTLayout(num_templates=2))
    z, x = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        feat, _ = net([z, z.clone()], x)
    torch.testing.assert_close(feat[:, :4], feat[:, 4:8], rtol=1e-5, atol=1e-6)


def test_wrong_number_of_templates_or_channels_is_rejected():
    net = tiny_vit(FIXTURE_LAYOUT)
    with pytest.raises(ValueError, match="2 template"):
        net(torch.randn(1, 6, 32, 32), torch.randn(1, 6, 64, 64))
    with pytest.raises(ValueError, match="6 input channels"):
        net([torch.randn(1, 3, 32, 32)] * 2, torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize("layout, message", [
    (dict(cls_token="first"), "cls_token"), (dict(pos_embed="shared"), "pos_embed"),
    (dict(num_templates=0), "template"), (dict(in_chans=5, streams=2), "split evenly"),
    (dict(extra_tokens=4, in_chans=6, streams=2), "cannot be combined")])
def test_invalid_layouts_are_rejected(layout, message):
    with pytest.raises(ValueError, match=message):
        ViTLayout(**layout)


@pytest.mark.parametrize("layout", [ViTLayout(search_first=True), ViTLayout(cls_token="prepended"),
                                    ViTLayout(extra_tokens=2)])
def test_candidate_elimination_needs_templates_then_search_only(layout):
    with pytest.raises(ValueError, match="candidate elimination"):
        tiny_vit(layout, ce_loc=[1], ce_keep_ratio=[0.7])


def test_cls_token_modes():
    none, stored, prepended = (tiny_vit(ViTLayout(cls_token=m)) for m in ("none", "stored", "prepended"))
    assert "cls_token" not in none.state_dict() and none.pos_embed.shape == (1, 196, 32)
    assert stored.pos_embed.shape == (1, 197, 32) and "cls_pos_embed" not in stored.state_dict()
    # A prepended token takes the cls slot of the pre-training table as its position.
    torch.testing.assert_close(prepended.cls_pos_embed, prepended.pos_embed[:, :1])
    z, x = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert stored(z, x)[0].shape == none(z, x)[0].shape == (1, 4 + 16, 32)
        feat, _ = prepended(z, x)
    assert feat.shape == (1, 1 + 4 + 16, 32) and prepended.search_start() == 5


def test_joint_position_table_covers_search_then_template():
    net = tiny_vit(ViTLayout(num_templates=2, search_first=True, pos_embed="joint"))
    assert [k for k in net.state_dict() if "pos" in k or "cls" in k] == ["pos_embed"]
    assert net.pos_embed.shape == (1, 16 + 4, 32)
    template, search = net.crop_position_embeddings()
    torch.testing.assert_close(search, net.pos_embed[:, :16])
    torch.testing.assert_close(template, net.pos_embed[:, 16:])


def test_seqtrack_encoder_names_match_the_official_manifest():
    layout = ViTLayout(num_templates=2, search_first=True, pos_embed="joint", pos_align_corners=True)
    with torch.device("meta"):
        net = build_one_stream_vit("vit_base_patch16_224", 256, 256, layout=layout)
    assert shapes(net) == manifest_entries("seqtrack_b256", "encoder.body.")
    feat, _ = net([torch.zeros(1, 3, 256, 256, device="meta")] * 2, torch.zeros(1, 3, 256, 256, device="meta"))
    assert feat.shape == (1, 3 * 256, 768)


def test_carried_tokens_go_in_and_come_out_without_module_state():
    torch.manual_seed(0)
    net = tiny_vit(ViTLayout(extra_tokens=3))
    z, x = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 64, 64)
    with pytest.raises(ValueError, match="extra_tokens"):
        net(z, x)
    state = torch.randn(2, 3, 32)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        feat, aux = net(z, x, extra_tokens=state)
        feat_again, aux_again = net(z, x, extra_tokens=state)
        feat_other, _ = net(z, x, extra_tokens=aux["extra_tokens"])
    assert feat.shape == (2, 4 + 16, 32) and aux["extra_tokens"].shape == (2, 3, 32)
    torch.testing.assert_close(feat, feat_again, rtol=0, atol=0)
    torch.testing.assert_close(aux["extra_tokens"], aux_again["extra_tokens"], rtol=0, atol=0)
    assert not torch.allclose(feat, feat_other)  # the carried tokens take part in the attention
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    # Without the extra tokens in the sequence, the crops alone give another result.
    plain = tiny_vit(ViTLayout())
    plain.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert not torch.allclose(plain(z, x)[0], feat)


class StreamAdapterBlock(CEBlock):
    """Per-stream adapters in the block's namespace, named as SDSTrack names them; only the auxiliary stream
    (stream 1) passes its MLP output through an adapter."""

    def __init__(self, dim: int, num_heads: int, **kwargs):
        super().__init__(dim, num_heads, **kwargs)
        for name in ("MLP_X_DTE_Adapter", "Space_X_DTE_Adapter", "MLP_X_X_DTE_Adapter", "Space_X_X_DTE_Adapter"):
            adapter = nn.Module()
            adapter.D_fc1 = nn.Linear(dim, dim // 4)
            adapter.D_fc2 = nn.Linear(dim // 4, dim)
            self.add_module(name, adapter)
        self.streams_seen = []

    def forward(self, x, num_template, global_index, template_mask=None, keep_ratio=None, stream=0):
        self.streams_seen.append(stream)
        x, global_index, removed = super().forward(x, num_template, global_index, template_mask, keep_ratio)
        if stream == 1:
            adapter = self.MLP_X_DTE_Adapter
            x = x + adapter.D_fc2(torch.relu(adapter.D_fc1(x)))
        return x, global_index, removed


def test_sdstrack_encoder_names_match_the_official_manifest():
    """Two streams with an adapter block give every SDSTrack backbone name but the two unused position tables
    the family adds itself."""
    layout = ViTLayout(cls_token="stored", in_chans=6, streams=2)
    with torch.device("meta"):
        net = build_one_stream_vit("vit_base_patch16_224_ce", 128, 256, ce_loc=[3, 6, 9],
                                   ce_keep_ratio=[0.7] * 3, layout=layout, block_layer=StreamAdapterBlock)
    official = manifest_entries("sdstrack_rgbd", "backbone.", exclude=("pos_embed_z_z_dte", "pos_embed_x_x_dte"))
    assert shapes(net) == official


def test_two_streams_with_equal_embeddings_equal_one_stream():
    """Both streams fed the same crop through the same weights average to the one-stream output."""
    torch.manual_seed(0)
    one = tiny_vit(ViTLayout(cls_token="stored"))
    two = tiny_vit(ViTLayout(cls_token="stored", in_chans=6, streams=2))
    two.load_state_dict({**one.state_dict(), **{f"patch_embed_multimodal.{k}": v
                                                for k, v in one.patch_embed.state_dict().items()}})
    z, x = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected, _ = one(z, x)
        feat, aux = two(torch.cat([z, z], 1), torch.cat([x, x], 1))
    torch.testing.assert_close(feat, expected, rtol=1e-5, atol=1e-5)
    assert aux["removed_indexes_streams"] == [[], []]


def test_two_streams_reach_their_adapters_and_fusion_hook():
    class Fusing(OneStreamViT):
        def fuse_streams(self, index, streams):
            self.fused.append(index)
            mean = (streams[0] + streams[1]) / 2
            return [mean, mean]

    torch.manual_seed(0)
    net = Fusing(32, 64, layout=ViTLayout(in_chans=6, streams=2), block_layer=StreamAdapterBlock, **TINY)
    net.fused = []
    z, x = torch.randn(1, 6, 32, 32), torch.randn(1, 6, 64, 64)
    feat, _ = net(z, x)
    assert net.fused == [0, 1] and net.blocks[0].streams_seen == [0, 1]
    feat.sum().backward()
    assert net.patch_embed_multimodal.proj.weight.grad.abs().sum() > 0
    assert net.blocks[1].MLP_X_DTE_Adapter.D_fc1.weight.grad.abs().sum() > 0
    assert net.blocks[1].Space_X_DTE_Adapter.D_fc1.weight.grad is None
    # The auxiliary channels feed the second stream only.
    with torch.no_grad():
        changed, _ = net(torch.cat([z[:, :3], torch.zeros_like(z[:, 3:])], 1), x)
    assert not torch.allclose(changed, feat)
