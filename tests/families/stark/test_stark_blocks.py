"""Shared blocks used by STARK (and later DynamicTrack): sine positions, soft-argmax corners, frozen BN, the DETR
layers, the truncated ResNet. Golden values are computed by hand or by torch's own reference modules."""
import math

import pytest
import torch
import torch.nn as nn

from lib.models.backbones.resnet import BackboneWithPosition, ResNetBackbone, imagenet_state_dict, stage_stride
from lib.models.heads.corner import CornerPredictor, query_weighted_features
from lib.models.heads.mlp import MLP
from lib.models.layers.frozen_bn import FrozenBatchNorm2d
from lib.models.layers.position_encoding import PositionEmbeddingSine
from lib.models.transformers.detr import Transformer, TransformerDecoderLayer, TransformerEncoderLayer


# ---------------------------------------------------------------- position encoding
def _expected_channels(p: float, feats: int) -> list[float]:
    """sin(p / T^(2i/F)) on even channels 2i, cos(p / T^(2i/F)) on odd channels 2i+1, T = 10000."""
    out = []
    for c in range(feats):
        angle = p / 10000 ** (2 * (c // 2) / feats)
        out.append(math.sin(angle) if c % 2 == 0 else math.cos(angle))
    return out


def test_sine_position_encoding_normalised_matches_hand_values():
    # 2 x 3 map whose last column is padding: valid counts along y are 1, 2 (0 in the padded column), along x
    # 1, 2, 2; each is divided by the last count of its column / row (+1e-6) and scaled by 2*pi.
    mask = torch.tensor([[[False, False, True], [False, False, True]]])
    pos = PositionEmbeddingSine(num_pos_feats=4, normalize=True)(mask)
    assert pos.shape == (1, 8, 2, 3)
    two_pi, eps = 2 * math.pi, 1e-6
    y_pos = [[1 / (2 + eps) * two_pi] * 2 + [0.0], [2 / (2 + eps) * two_pi] * 2 + [0.0]]
    x_pos = [[1 / (2 + eps) * two_pi, 2 / (2 + eps) * two_pi, 2 / (2 + eps) * two_pi]] * 2
    for r in range(2):
        for c in range(3):
            expected = _expected_channels(y_pos[r][c], 4) + _expected_channels(x_pos[r][c], 4)
            assert pos[0, :, r, c].tolist() == pytest.approx(expected, abs=1e-6), (r, c)


def test_sine_position_encoding_raw_counts_without_normalisation():
    mask = torch.zeros(1, 3, 2, dtype=torch.bool)
    pos = PositionEmbeddingSine(num_pos_feats=2, normalize=False)(mask)
    # F = 2: both channels of a half use T^0 = 1, so (sin p, cos p) with p = 1-based row / column index.
    assert pos[0, :, 2, 1].tolist() == pytest.approx([math.sin(3), math.cos(3), math.sin(2), math.cos(2)], abs=1e-6)


def test_sine_position_encoding_rejects_scale_without_normalise():
    with pytest.raises(ValueError, match="normalize"):
        PositionEmbeddingSine(4, normalize=False, scale=1.0)


# ---------------------------------------------------------------- corner head
def _head(feat_sz=3, stride=16, offset=0.0):
    return CornerPredictor(inplanes=8, channel=16, feat_sz=feat_sz, stride=stride, offset=offset)


def test_soft_argmax_one_hot_picks_the_cell_corner():
    head = _head()
    score = torch.full((1, 1, 3, 3), -1e4)
    score[0, 0, 1, 2] = 0.0  # row 1, column 2
    x, y = head.soft_argmax(score)
    assert (x.item(), y.item()) == pytest.approx((2 * 16, 1 * 16))  # no +0.5: cells stand for their corners


def test_soft_argmax_averages_equal_cells_and_uniform_maps():
    head = _head()
    score = torch.full((2, 1, 3, 3), -1e4)
    score[0, 0, 0, 0] = score[0, 0, 2, 1] = 5.0  # two equal peaks: (0, 0) and (x=16, y=32)
    score[1] = 0.0  # uniform: mean of 0, 16, 32 on both axes
    x, y = head.soft_argmax(score)
    assert x.tolist() == pytest.approx([8.0, 16.0])
    assert y.tolist() == pytest.approx([16.0, 16.0])


def test_soft_argmax_offset_shifts_to_cell_centres():
    x, y = _head(offset=0.5).soft_argmax(torch.zeros(1, 1, 3, 3))
    assert (x.item(), y.item()) == pytest.approx((24.0, 24.0))


def test_corner_head_normalises_by_crop_size_and_keeps_official_keys():
    head = _head().eval()
    out = head(torch.randn(2, 8, 3, 3))
    assert out.shape == (2, 4) and ((out >= 0) & (out <= 32 / 48)).all()
    keys = list(head.state_dict())
    assert keys[:2] == ["conv1_tl.0.weight", "conv1_tl.0.bias"]
    assert "conv5_br.weight" in keys and not any("coord" in k for k in keys)
    # towers: inplanes -> channel -> /2 -> /4 -> /8 -> 1
    assert [head.state_dict()[f"conv{i}_tl.0.weight"].shape[0] for i in range(1, 5)] == [16, 8, 4, 2]


def test_query_weighted_features_matches_einsum():
    memory = torch.randn(4, 2, 5)  # (HW = 2x2, B, C)
    hs = torch.randn(1, 2, 3, 5)  # (1, B, N, C)
    out = query_weighted_features(memory, hs, feat_sz=2)
    tokens = memory.transpose(0, 1)  # (B, HW, C)
    sim = torch.einsum("bkc,bnc->bnk", tokens, hs[0])  # (B, N, HW)
    expected = torch.einsum("bkc,bnk->bnck", tokens, sim).reshape(6, 5, 2, 2)
    torch.testing.assert_close(out, expected)


# ---------------------------------------------------------------- MLP, frozen BN
def test_mlp_relu_between_layers_only():
    mlp = MLP(1, 1, 1, 3)
    with torch.no_grad():
        for layer, (w, b) in zip(mlp.layers, [(1.0, 0.0), (-1.0, 0.0), (1.0, -2.0)], strict=True):
            layer.weight.fill_(w)
            layer.bias.fill_(b)
    # 3 -> relu(3) = 3 -> relu(-3) = 0 -> 0 - 2 = -2 (no ReLU after the last layer)
    assert mlp(torch.tensor([[3.0]])).item() == pytest.approx(-2.0)
    assert [k for k in mlp.state_dict()] == [f"layers.{i}.{p}" for i in range(3) for p in ("weight", "bias")]


def test_frozen_bn_equals_batchnorm_in_eval_and_has_no_parameters():
    bn = nn.BatchNorm2d(3).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        bn.running_mean.copy_(torch.tensor([0.5, 0.0, -1.0]))
        bn.running_var.copy_(torch.tensor([2.0, 0.25, 1.0]))
    frozen = FrozenBatchNorm2d(3)
    frozen.load_state_dict(bn.state_dict())  # num_batches_tracked is dropped, not an unexpected key
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(frozen(x), bn(x))
    assert list(frozen.parameters()) == []
    assert set(frozen.state_dict()) == {"weight", "bias", "running_mean", "running_var"}


# ---------------------------------------------------------------- DETR layers vs torch's reference layers
def _copy(dst: nn.Module, src: nn.Module) -> None:
    dst.load_state_dict(src.state_dict(), strict=True)  # same submodule names as torch.nn.Transformer*Layer


@pytest.mark.parametrize("pre_norm", [False, True])
def test_encoder_layer_equals_torch_layer_without_positions(pre_norm):
    ours = TransformerEncoderLayer(16, 4, 32, dropout=0.0, normalize_before=pre_norm).eval()
    ref = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, norm_first=pre_norm).eval()
    _copy(ref, ours)
    src = torch.randn(7, 2, 16)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[1, 5:] = True
    torch.testing.assert_close(ours(src, src_key_padding_mask=pad)[:, 0], ref(src, src_key_padding_mask=pad)[:, 0],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours(src, src_key_padding_mask=pad)[:5, 1], ref(src, src_key_padding_mask=pad)[:5, 1],
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_decoder_layer_equals_torch_layer_without_positions(pre_norm):
    ours = TransformerDecoderLayer(16, 4, 32, dropout=0.0, normalize_before=pre_norm).eval()
    ref = nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, norm_first=pre_norm).eval()
    _copy(ref, ours)
    tgt, memory = torch.randn(2, 3, 16), torch.randn(9, 3, 16)
    torch.testing.assert_close(ours(tgt, memory), ref(tgt, memory), atol=1e-5, rtol=1e-5)


def test_encoder_layer_adds_positions_to_queries_and_keys_only():
    layer = TransformerEncoderLayer(8, 2, 16, dropout=0.0).eval()
    src, pos = torch.randn(5, 1, 8), torch.randn(5, 1, 8)
    attn = layer.self_attn(src + pos, src + pos, src)[0]  # values carry no positions
    hidden = layer.norm1(src + attn)
    expected = layer.norm2(hidden + layer.linear2(torch.relu(layer.linear1(hidden))))
    torch.testing.assert_close(layer(src, pos=pos), expected)


def test_transformer_decodes_one_query_from_zeros_with_final_norm():
    model = Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16,
                        dropout=0.0).eval()
    feat, pos = torch.randn(6, 2, 8), torch.randn(6, 2, 8)
    mask = torch.zeros(2, 6, dtype=torch.bool)
    query = torch.randn(1, 8)
    hs, memory = model(feat, mask, query, pos)
    assert hs.shape == (1, 2, 1, 8) and memory.shape == (6, 2, 8)
    layer = model.decoder.layers[0]
    expected = model.decoder.norm(layer(torch.zeros(1, 2, 8), memory, memory_key_padding_mask=mask, pos=pos,
                                        query_pos=query[:, None].expand(1, 2, 8)))
    torch.testing.assert_close(hs[0].transpose(0, 1), expected)
    assert model.encoder.norm is None  # post-norm: no final encoder norm (no such checkpoint key)


# ---------------------------------------------------------------- ResNet backbone
def test_resnet_cut_after_layer3_stride_channels_and_trainable_layers():
    net = ResNetBackbone("resnet18", trainable=("layer2", "layer3"))
    assert [n for n, _ in net.body.named_children()] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2",
                                                         "layer3"]
    mask = torch.zeros(2, 64, 96, dtype=torch.bool)
    mask[:, :, 48:] = True
    feat, small = net(torch.randn(2, 3, 64, 96), mask)
    assert feat.shape == (2, 256, 4, 6) and net.num_channels == 256 and net.stride == 16
    assert small.shape == (2, 4, 6) and small[:, :, 3:].all() and not small[:, :, :3].any()
    trainable = {n.split(".")[0] for n, p in net.body.named_parameters() if p.requires_grad}
    assert trainable == {"layer2", "layer3"}
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())


def test_resnet_dilation_halves_the_stride_and_unknown_names_fail():
    net = ResNetBackbone("resnet18", dilation=False, trainable=())
    assert net(torch.randn(1, 3, 64, 64), torch.zeros(1, 64, 64, dtype=torch.bool))[0].shape[-1] == 4
    assert stage_stride("layer3", dilation=True) == 8 and stage_stride("layer4") == 32
    with pytest.raises(ValueError, match="resnet50"):
        ResNetBackbone("resnet7")
    with pytest.raises(ValueError, match="layer4"):
        ResNetBackbone("resnet18", trainable=("layer4",))


def test_imagenet_weights_read_from_the_search_folder(tmp_path):
    import torchvision.models as tvm

    reference = tvm.resnet18(weights=None).state_dict()
    reference["conv1.weight"].fill_(0.25)
    reference = {k: v for k, v in reference.items() if not k.endswith("num_batches_tracked")}  # old file format
    torch.save(reference, tmp_path / "resnet18-5c106cde.pth")
    loaded = imagenet_state_dict("resnet18", str(tmp_path))
    net = ResNetBackbone("resnet18", pretrained=loaded)
    assert (net.body.conv1.weight == 0.25).all()
    torch.testing.assert_close(net.body.layer3[1].bn2.running_var, reference["layer3.1.bn2.running_var"])


def test_backbone_with_position_keeps_joiner_names():
    joined = BackboneWithPosition(ResNetBackbone("resnet18"), PositionEmbeddingSine(8, normalize=True))
    feat, mask, pos = joined(torch.randn(1, 3, 32, 32), torch.zeros(1, 32, 32, dtype=torch.bool))
    assert pos.shape == (1, 16, 2, 2) and pos.dtype == feat.dtype and mask.shape == (1, 2, 2)
    assert next(iter(joined.state_dict())) == "0.body.conv1.weight"
