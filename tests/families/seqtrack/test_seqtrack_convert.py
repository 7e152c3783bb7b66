"""A released SeqTrack file (`SEQTRACK_ep0500.pth.tar`: the `net` weights, float32) converts into a checkpoint that
the tracker loads strictly, without executing pickled code."""
import os
import runpy

import pytest
import torch

from lib.families import get_family, load_config
from lib.test.parameter import TrackerParams
from lib.test.tracker.base import build_network
from lib.utils.checkpoint import CheckpointError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def converter(monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(REPO, "tracking"))
    return runpy.run_path(os.path.join(REPO, "tracking", "convert_checkpoint.py"), run_name="convert_cli")


def test_released_file_converts_and_loads_strictly_into_the_tracker(converter, tmp_path, capsys):
    torch.manual_seed(0)
    net = get_family("seqtrack").build_model(load_config("seqtrack", "tiny"), False)
    source, target = tmp_path / "SEQTRACK_ep0500.pth.tar", tmp_path / "clean.pth.tar"
    torch.save({"net": net.state_dict()}, source)
    argv = ["--script", "seqtrack", "--config", "tiny", "--input", str(source), "--output", str(target)]
    assert converter["main"](argv) == 0
    assert "keys verified" in capsys.readouterr().out
    params = TrackerParams.create("seqtrack", "tiny", checkpoint=str(target))
    loaded = build_network(params)
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_a_file_of_another_model_is_refused(converter, tmp_path):
    source = tmp_path / "SEQTRACK_ep0500.pth.tar"
    torch.save({"net": get_family("seqtrack").build_model(load_config("seqtrack", "tiny"), False).state_dict()},
               source)
    with pytest.raises(CheckpointError, match="--config"):
        converter["convert"](str(source), str(tmp_path / "out.pth.tar"), "seqtrack", "seqtrack_b256")
