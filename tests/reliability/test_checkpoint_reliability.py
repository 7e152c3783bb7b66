"""Items 1, 5, 6, 8 of issue 24: INIT_FROM coverage, empty checkpoints, converting any layout, resume fallback."""
import os
import runpy
import sys

import pytest
import torch
import torch.nn as nn

from lib.config import ConfigError
from lib.families import load_config
from lib.families import get_family
from lib.train.staging import load_init_weights
from lib.utils.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tests.train.test_trainer import make_trainer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class BnNet(nn.Module):
    """A backbone with BatchNorm (whose num_batches_tracked PyTorch never reports missing) and a head."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.box_head = nn.Linear(4, 4)


def test_init_from_another_models_checkpoint_is_refused_listing_what_did_not_match(tmp_path):
    stark = get_family("stark_s").build_model(load_config("stark_s", "tiny"), False)
    save_checkpoint(str(tmp_path / "stark.pth.tar"), {"net": stark.state_dict()})
    ostrack = get_family("ostrack").build_model(load_config("ostrack", "tiny"), False)
    before = {k: v.clone() for k, v in ostrack.state_dict().items()}
    with pytest.raises(ConfigError, match=r"TRAIN.INIT_FROM .*stark.pth.tar provides \d+ of the \d+ non-head "
                                          r"entries of .*not matched: backbone\..*TRAIN.INIT_MIN_MATCH"):
        load_init_weights(ostrack, str(tmp_path / "stark.pth.tar"))
    assert all(torch.equal(before[k], v) for k, v in ostrack.state_dict().items())  # nothing was loaded


def test_batchnorm_counters_do_not_hide_a_file_that_matches_nothing(tmp_path):
    save_checkpoint(str(tmp_path / "other.pth.tar"), {"net": {"encoder.weight": torch.zeros(2)}})
    with pytest.raises(ConfigError, match="provides 0 of the 6 non-head entries"):
        load_init_weights(BnNet(), str(tmp_path / "other.pth.tar"))


def test_partial_files_need_an_explicit_lower_fraction_and_wrong_shapes_never_load(tmp_path):
    source = BnNet()
    partial = {k: v for k, v in source.state_dict().items() if k.startswith("backbone.0")}  # conv only
    partial["backbone.1.weight"] = torch.ones(5)  # wrong shape
    save_checkpoint(str(tmp_path / "partial.pth.tar"), {"net": partial})
    with pytest.raises(ConfigError, match=r"provides 2 of the 6 .*wrong shape: backbone.1.weight \(5,\) vs \(4,\)"):
        load_init_weights(BnNet(), str(tmp_path / "partial.pth.tar"))
    net = BnNet()
    missing, _ = load_init_weights(net, str(tmp_path / "partial.pth.tar"), min_match=0.3)
    assert torch.equal(net.backbone[0].weight, source.backbone[0].weight)
    assert "backbone.1.weight" in missing and torch.equal(net.backbone[1].weight, torch.ones(4))


def test_an_empty_checkpoint_names_the_file_instead_of_an_index_error(tmp_path):
    path = tmp_path / "STARKS_ep0001.pth.tar"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"STARKS_ep0001.pth.tar: the file is empty \(0 bytes"):
        load_checkpoint(str(path))


@pytest.fixture
def converter(monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(REPO, "tracking"))
    return runpy.run_path(os.path.join(REPO, "tracking", "convert_checkpoint.py"))


def test_the_converter_converts_trackzoos_own_training_checkpoints(tmp_path, converter):
    trainer = make_trainer(tmp_path)
    trainer.state.epoch = 3
    path = trainer.save()  # holds the random states as uint8 / uint32 tensors
    report = converter["convert"](path, str(tmp_path / "clean.pth.tar"), "stark_s")
    clean = torch.load(tmp_path / "clean.pth.tar", weights_only=True)
    assert report["epoch"] == 3 and clean["net"].keys() == trainer.net.state_dict().keys()
    assert all(torch.equal(clean["net"][k], v) for k, v in trainer.net.state_dict().items())


@pytest.mark.parametrize("layout", ["net", "model", "state_dict", "bare", "ddp_net"])
def test_the_converter_reads_the_official_layouts(tmp_path, converter, layout):
    weights = {"backbone.weight": torch.randn(3, 2), "box_head.bias": torch.arange(4.0)}
    content = {"net": {"net": weights}, "model": {"model": weights, "epoch": 7},
               "state_dict": {"state_dict": weights, "optimizer": None}, "bare": weights,
               "ddp_net": {"net": {f"module.{k}": v for k, v in weights.items()}}}[layout]
    torch.save(content, tmp_path / "official.pth")
    converter["convert"](str(tmp_path / "official.pth"), str(tmp_path / "clean.pth.tar"), "stark_s")
    clean = torch.load(tmp_path / "clean.pth.tar", weights_only=True)["net"]
    assert clean.keys() == weights.keys() and all(torch.equal(clean[k], v) for k, v in weights.items())


def test_resume_latest_skips_a_truncated_newest_checkpoint_and_says_why(tmp_path):
    trainer = make_trainer(tmp_path)
    trainer.state.epoch = 1
    good = trainer.save()
    trainer.state.epoch = 2
    newest = trainer.save()
    with open(newest, "rb") as f:
        data = f.read()
    with open(newest, "wb") as f:
        f.write(data[: len(data) // 2])
    messages = []
    resumed = make_trainer(tmp_path)
    resumed.printer = messages.append
    assert resumed.resume("latest") == good and resumed.state.epoch == 1
    assert any(f"skipping {newest}" in m and "truncated" in m for m in messages), messages


def test_resume_of_a_named_broken_file_is_an_error_not_a_fallback(tmp_path):
    trainer = make_trainer(tmp_path)
    (tmp_path / "broken.pth.tar").write_bytes(b"")
    with pytest.raises(CheckpointError, match="broken.pth.tar"):
        trainer.resume(str(tmp_path / "broken.pth.tar"))
