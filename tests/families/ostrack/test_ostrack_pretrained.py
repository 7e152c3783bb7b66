"""Backbone pre-training from a local file: MAE and timm layouts, position-embedding resize, clear errors."""
import pytest
import torch
import torch.nn.functional as F

from lib.families import get_family, load_config
from lib.families.ostrack.model import build_ostrack
from lib.models.backbones.pretrained import load_pretrained_vit

DIM, DEPTH = 64, 4  # the tiny variant vit_test_patch16_ce


def vit_weights(grid: int, cls: bool = True, dim: int = DIM) -> dict[str, torch.Tensor]:
    """Random ViT-B-style encoder weights named as MAE / timm name them."""
    g = torch.Generator().manual_seed(grid)
    rand = lambda *shape: torch.randn(*shape, generator=g)
    w = {"pos_embed": rand(1, grid * grid + int(cls), dim), "patch_embed.proj.weight": rand(dim, 3, 16, 16),
         "patch_embed.proj.bias": rand(dim), "norm.weight": rand(dim), "norm.bias": rand(dim)}
    if cls:
        w["cls_token"] = rand(1, 1, dim)
    for i in range(DEPTH):
        p = f"blocks.{i}."
        w.update({p + "norm1.weight": rand(dim), p + "norm1.bias": rand(dim),
                  p + "attn.qkv.weight": rand(3 * dim, dim), p + "attn.qkv.bias": rand(3 * dim),
                  p + "attn.proj.weight": rand(dim, dim), p + "attn.proj.bias": rand(dim),
                  p + "norm2.weight": rand(dim), p + "norm2.bias": rand(dim),
                  p + "mlp.fc1.weight": rand(4 * dim, dim), p + "mlp.fc1.bias": rand(4 * dim),
                  p + "mlp.fc2.weight": rand(dim, 4 * dim), p + "mlp.fc2.bias": rand(dim)})
    return w


def bicubic(grid_tokens: torch.Tensor, side: int) -> torch.Tensor:
    n = int(grid_tokens.shape[1] ** 0.5)
    image = grid_tokens.reshape(1, n, n, -1).permute(0, 3, 1, 2)
    return F.interpolate(image, size=(side, side), mode="bicubic", align_corners=False).flatten(2).transpose(1, 2)


def pretrained_cfg(name: str):
    cfg = load_config("ostrack", "tiny").clone()
    cfg.MODEL.PRETRAIN_FILE = name
    return cfg


def test_mae_checkpoint_loads_and_sets_crop_position_embeddings(tmp_path):
    weights = vit_weights(14)
    mae = {"model": {**weights, "mask_token": torch.zeros(1, 1, 32), "decoder_embed.weight": torch.zeros(32, DIM)}}
    torch.save(mae, tmp_path / "mae_pretrain_vit_base.pth")
    net = build_ostrack(pretrained_cfg("mae_pretrain_vit_base.pth"), True, pretrained_folder=str(tmp_path))
    state = net.backbone.state_dict()
    for key, value in weights.items():
        torch.testing.assert_close(state[key], value, msg=key)
    torch.testing.assert_close(state["pos_embed_z"], bicubic(weights["pos_embed"][:, 1:], 4))
    torch.testing.assert_close(state["pos_embed_x"], bicubic(weights["pos_embed"][:, 1:], 8))


def test_timm_state_dict_on_another_grid_is_resized(tmp_path):
    """A timm ViT fine-tuned at 384 px (24 x 24 grid + cls, with a classifier) loads after a bicubic resize."""
    weights = vit_weights(24)
    torch.save({**weights, "head.weight": torch.zeros(10, DIM), "head.bias": torch.zeros(10)}, tmp_path / "vit.pth")
    net = get_family("ostrack").build_model(load_config("ostrack", "tiny"), False)
    report = load_pretrained_vit(net.backbone, str(tmp_path / "vit.pth"))
    pos = net.backbone.pos_embed.detach()
    torch.testing.assert_close(pos[:, :1], weights["pos_embed"][:, :1])
    torch.testing.assert_close(pos[:, 1:], bicubic(weights["pos_embed"][:, 1:], 14))
    torch.testing.assert_close(net.backbone.pos_embed_x.detach(), bicubic(pos[:, 1:], 8))
    assert report.missing == [] and set(report.ignored) == {"head.weight", "head.bias"}


def test_missing_file_names_the_expected_path(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        build_ostrack(pretrained_cfg("mae_pretrain_vit_base.pth"), True, pretrained_folder=str(tmp_path))
    assert str(tmp_path / "mae_pretrain_vit_base.pth") in str(e.value)
    assert "PRETRAIN_FILE" in str(e.value)


def test_pretraining_off_or_at_test_time_reads_no_file(tmp_path):
    build_ostrack(pretrained_cfg(""), True, pretrained_folder=str(tmp_path))
    build_ostrack(pretrained_cfg("mae_pretrain_vit_base.pth"), False, pretrained_folder=str(tmp_path))


@pytest.mark.parametrize("content, message", [
    ({"net": {"backbone.norm.weight": torch.zeros(DIM)}}, "TRAIN.INIT_FROM"),
    ({"model": {"conv1.weight": torch.zeros(8, 3, 7, 7)}}, "shares no weight"),
    ({"model": {"norm.weight": torch.zeros(DIM + 1)}}, "'norm.weight' has shape"),
])
def test_wrong_files_are_rejected(tmp_path, content, message):
    torch.save(content, tmp_path / "w.pth")
    net = get_family("ostrack").build_model(load_config("ostrack", "tiny"), False)
    with pytest.raises(ValueError, match=message):
        load_pretrained_vit(net.backbone, str(tmp_path / "w.pth"))


def test_family_build_reads_the_pretrained_networks_folder_of_the_environment(tmp_path, isolated_env):
    weights = vit_weights(14)
    torch.save({"model": weights}, tmp_path / "mae_pretrain_vit_base.pth")
    isolated_env.setenv("TRACKZOO_PRETRAINED_NETWORKS", str(tmp_path))
    net = get_family("ostrack").build_model(pretrained_cfg("mae_pretrain_vit_base.pth"), True)
    torch.testing.assert_close(net.backbone.blocks[3].mlp.fc2.weight.detach(), weights["blocks.3.mlp.fc2.weight"])
