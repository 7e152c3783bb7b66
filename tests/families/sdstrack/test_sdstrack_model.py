"""SDSTrack behaviour the conformance suite does not check: the complementary token masks, the masked path, the
fusion features used for distillation and the official parameter groups."""
from __future__ import annotations

import torch

from lib.families import get_family, load_config
from lib.families.sdstrack import param_groups
from lib.families.sdstrack.model import AUX, RGB, complementary_keep_masks
from tests.families.sdstrack.helpers import drawn_inputs, drawn_tiny_model


def test_complementary_masks_never_drop_a_position_in_both_modalities():
    torch.manual_seed(0)
    keep = complementary_keep_masks(64, {"z": 16, "x": 64}, torch.device("cpu"))
    for crop in ("z", "x"):
        rgb, aux = keep[(RGB, crop)], keep[(AUX, crop)]
        assert not ((rgb == 0) & (aux == 0)).any()
        # p = 0.3 for RGB, 0.7 * 0.3 = 0.21 for the auxiliary stream
        assert abs((rgb == 0).float().mean().item() - 0.3) < 0.03
        assert abs((aux == 0).float().mean().item() - 0.21) < 0.03


def test_masked_path_differs_from_the_fine_path_and_both_return_the_fusion_features():
    net = drawn_tiny_model()
    z, x, mask = drawn_inputs()
    torch.manual_seed(0)
    with torch.no_grad():
        fine = net(z, x, ce_template_mask=mask)
        masked = net(z, x, ce_template_mask=mask, masked=True)
    # the tiny model has 4 blocks, so one fusion stage (block 3): [rgb ; aux], 16 template + 32 search tokens each
    # (64 -> 45 -> 32 after CE at blocks 1 and 2)
    assert len(fine["distill_features"]) == len(masked["distill_features"]) == 1
    assert fine["distill_features"][0].shape == (2, 2 * (16 + 32), 64)
    assert not torch.allclose(fine["backbone_feat"], masked["backbone_feat"])
    assert not torch.allclose(fine["distill_features"][0], masked["distill_features"][0])


def test_only_adapters_the_auxiliary_patch_embedding_and_the_final_norm_train():
    cfg = load_config("sdstrack", "tiny_rgbd")
    net = get_family("sdstrack").build_model(cfg, True)
    groups = param_groups(net, cfg)
    names = {id(p): n for n, p in net.named_parameters()}
    adapted = {names[id(p)] for p in groups[0]["params"]}
    assert groups[0]["lr"] == cfg.TRAIN.LR and groups[1]["lr"] == cfg.TRAIN.LR * cfg.TRAIN.BACKBONE_MULTIPLIER
    assert {names[id(p)] for p in groups[1]["params"]} == {"backbone.norm.weight", "backbone.norm.bias"}
    assert all("Adapter" in n or "patch_embed_multimodal" in n for n in adapted)
    assert len(adapted) == 4 * 4 * 4 + 2  # 4 adapters x 4 tensors per block, plus the multimodal embedding
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable == adapted | {"backbone.norm.weight", "backbone.norm.bias"}


def test_an_ostrack_checkpoint_initialises_everything_but_the_new_modules(tmp_path):
    """The official initialisation: a whole OSTrack checkpoint ('net' entry), loaded through TRAIN.INIT_FROM."""
    from lib.train.staging import load_init_weights

    ostrack = get_family("ostrack").build_model(load_config("ostrack", "tiny"), True)
    path = str(tmp_path / "OSTrack_ep0010.pth.tar")
    torch.save({"net": ostrack.state_dict()}, path)
    cfg = load_config("sdstrack", "tiny_rgbd")
    net = get_family("sdstrack").build_model(cfg, True)
    missing, unexpected = load_init_weights(net, path, cfg.TRAIN.INIT_MIN_MATCH)
    assert not unexpected
    assert {k.split(".")[1] for k in missing} == {"pos_embed_z_z_dte", "pos_embed_x_x_dte", "patch_embed_multimodal",
                                                  "blocks"}
    assert all("Adapter" in k for k in missing if ".blocks." in k)
    assert torch.equal(net.state_dict()["backbone.blocks.0.attn.qkv.weight"],
                       ostrack.state_dict()["backbone.blocks.0.attn.qkv.weight"])
