"""MODEL.PRETRAIN_FILE: the official YAMLs name an OSTrack checkpoint under the official `./pretrained/` folder;
training loads it (non-strictly, its 'net' entry) from our pretrained_networks folder; a missing file is one
error; the tiny config (no file) is unaffected."""
from __future__ import annotations

import os

import pytest
import torch

from lib.families import get_family, load_config
from lib.families.sdstrack.model import build_sdstrack
from lib.utils.cli import UserError

OFFICIAL = "./pretrained/vitb_256_mae_ce_32x4_ep300/OSTrack_ep0300.pth.tar"


def tiny_with_pretrain_file():
    return load_config("sdstrack", "tiny_rgbd", opts=["MODEL.PRETRAIN_FILE", OFFICIAL])


def test_the_official_yamls_name_an_ostrack_checkpoint():
    assert load_config("sdstrack", "cvpr2024_rgbd").MODEL.PRETRAIN_FILE == OFFICIAL
    assert load_config("sdstrack", "tiny_rgbd").MODEL.PRETRAIN_FILE == ""


def test_pretrain_file_initialises_everything_but_the_new_modules(tmp_path):
    torch.manual_seed(0)
    ostrack = get_family("ostrack").build_model(load_config("ostrack", "tiny"), True)
    target = tmp_path / "vitb_256_mae_ce_32x4_ep300" / "OSTrack_ep0300.pth.tar"
    target.parent.mkdir()
    torch.save({"net": ostrack.state_dict(), "epoch": 300}, target)
    torch.manual_seed(1)
    net = build_sdstrack(tiny_with_pretrain_file(), True, pretrained_folder=str(tmp_path))
    fresh = net.state_dict()
    torch.manual_seed(1)
    random = build_sdstrack(load_config("sdstrack", "tiny_rgbd"), True).state_dict()
    source = ostrack.state_dict()
    shared = [k for k in fresh if k in source]
    assert len(shared) > 50
    for key in shared:  # ViT blocks, embeddings, norms and the head (BatchNorm statistics included)
        assert torch.equal(fresh[key], source[key]), key
    assert not torch.equal(fresh["backbone.blocks.0.attn.qkv.weight"], random["backbone.blocks.0.attn.qkv.weight"])
    # the adapters and the auxiliary patch embedding keep their own initialisation
    new = [k for k in fresh if k not in source]
    assert new and all("Adapter" in k or "multimodal" in k or "_dte" in k for k in new)
    assert all(torch.equal(fresh[k], random[k]) for k in new)


def test_missing_pretrain_file_is_one_clear_error(tmp_path):
    with pytest.raises(UserError) as info:
        build_sdstrack(tiny_with_pretrain_file(), True, pretrained_folder=str(tmp_path))
    message = str(info.value)
    expected = os.path.join(str(tmp_path), "vitb_256_mae_ce_32x4_ep300", "OSTrack_ep0300.pth.tar")
    assert expected in message and "MODEL.PRETRAIN_FILE ''" in message and "\n" not in message


def test_tiny_config_and_test_time_builds_read_no_file(tmp_path):
    build_sdstrack(load_config("sdstrack", "tiny_rgbd"), True, pretrained_folder=str(tmp_path))
    build_sdstrack(tiny_with_pretrain_file(), False, pretrained_folder=str(tmp_path))  # test time: checkpoint instead
