"""tracking/convert_checkpoint.py: official files that pickle settings objects are converted without running any
code from them, into files that load with weights_only=True and fit the model strictly."""
import os
import pickle
import runpy
import sys
import types

import pytest
import torch

from lib.utils.checkpoint import CheckpointError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EVIL_MODULE = "trackzoo_test_settings_module"


@pytest.fixture
def converter(monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(REPO, "tracking"))
    return runpy.run_path(os.path.join(REPO, "tracking", "convert_checkpoint.py"), run_name="convert_cli")


class _Settings:
    """Stands for the official training `Settings` object; unpickling it would run exec()."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('executed')",)


class _Stats(dict):
    pass


def _official_like_checkpoint(path, state, marker, zipfile=True):
    """Pickle a state dict next to objects of a module that exists only while saving (as the official files
    reference lib.train.admin.* classes)."""
    module = types.ModuleType(EVIL_MODULE)
    for cls in (_Settings, _Stats):
        cls.__module__ = EVIL_MODULE
        setattr(module, cls.__name__, cls)
    sys.modules[EVIL_MODULE] = module
    try:
        stats = _Stats(loss=1.5)
        torch.save({"epoch": 50, "actor_type": "STARKSTActor", "net_type": "STARKST", "net": state,
                    "settings": _Settings(marker), "stats": stats, "optimizer": {"state": {}}},
                   path, _use_new_zipfile_serialization=zipfile)
    finally:
        del sys.modules[EVIL_MODULE]
        for cls in (_Settings, _Stats):
            cls.__module__ = __name__


def _tiny_state():
    from lib.families import get_family, load_config

    return get_family("stark_s").build_model(load_config("stark_s", "tiny"), False).state_dict()


@pytest.mark.parametrize("zipfile", [True, False])
def test_converts_without_executing_pickled_code(converter, tmp_path, zipfile):
    state = {"a.weight": torch.randn(3, 2), "b.bias": torch.arange(4.0)}
    marker = str(tmp_path / "executed.txt")
    source, target = str(tmp_path / "STARKST_ep0050.pth.tar"), str(tmp_path / "clean.pth.tar")
    _official_like_checkpoint(source, state, marker, zipfile)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(source, weights_only=True)  # the reason the converter exists
    report = converter["convert"](source, target, "stark_st2")
    assert not os.path.exists(marker)
    assert any("exec" in name for name in report["neutralised"])
    assert f"{EVIL_MODULE}._Stats" in report["neutralised"]
    clean = torch.load(target, weights_only=True)
    assert set(clean) == {"net", "epoch", "net_type", "converted_from"} and clean["epoch"] == 50
    assert clean["net"].keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(clean["net"][key], value)


def test_placeholders_are_inert(converter):
    import io

    payload = pickle.dumps(_Settings("/nonexistent/never-written"))
    obj = converter["RestrictedUnpickler"](io.BytesIO(payload)).load()
    assert isinstance(obj, converter["Placeholder"])
    assert "exec" in repr(type(obj).qualified_name)


def test_verifies_keys_against_the_model(converter, tmp_path, capsys):
    state = _tiny_state()
    source, target = str(tmp_path / "STARKS_ep0010.pth.tar"), str(tmp_path / "clean.pth.tar")
    _official_like_checkpoint(source, state, str(tmp_path / "m"))
    assert converter["main"](["--script", "stark_s", "--config", "tiny", "--input", source, "--output", target]) == 0
    assert "verified" in capsys.readouterr().out
    del state["query_embed.weight"]
    _official_like_checkpoint(source, state, str(tmp_path / "m"))
    with pytest.raises(RuntimeError, match="query_embed"):
        converter["convert"](source, str(tmp_path / "other.pth.tar"), "stark_s", "tiny")
    assert not os.path.exists(tmp_path / "other.pth.tar")


def test_rejects_files_without_a_state_dict(converter, tmp_path):
    source = str(tmp_path / "x.pth")
    torch.save({"epoch": 1}, source)
    with pytest.raises(CheckpointError, match="no weights found"):
        converter["convert"](source, str(tmp_path / "y.pth"), "stark_s")
