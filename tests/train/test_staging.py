"""Staged training: freeze/trainable prefixes, INIT_FROM resolution, a stage-2 step touches only what trains."""
import pytest
import torch

from lib.config.defaults import get_default_config
from lib.train.optim import build_optimizer, default_param_groups
from lib.train.staging import apply_freeze, load_init_weights, resolve_init_from
from lib.utils.checkpoint import checkpoint_path, save_checkpoint
from tests.fixtures.toy_family import add_config, build_model


def toy():
    cfg = get_default_config()
    add_config(cfg, "toy")
    return cfg, build_model(cfg, True)


def test_trainable_prefixes_freeze_everything_else_and_a_step_changes_only_them():
    cfg, net = toy()
    trainable = apply_freeze(net, freeze=[], trainable=["box_head"])
    assert trainable == ["box_head.weight", "box_head.bias"]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = build_optimizer(default_param_groups(net, cfg), cfg)
    net(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 32, 32)).sum().backward()
    opt.step()
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("backbone"))
    assert not torch.equal(before["box_head.weight"], after["box_head.weight"])


def test_freeze_prefix_matches_whole_components():
    _, net = toy()
    apply_freeze(net, freeze=["backbone.0"], trainable=[])
    assert not net.backbone[0].weight.requires_grad and net.box_head.weight.requires_grad


@pytest.mark.parametrize("key", ["freeze", "trainable"])
def test_prefix_that_matches_nothing_is_an_error(key):
    _, net = toy()
    kwargs = {"freeze": [], "trainable": []}
    kwargs[key] = ["box_head2"]
    with pytest.raises(ValueError, match=r"box_head2.*top-level modules: backbone, box_head"):
        apply_freeze(net, **kwargs)


def test_init_from_previous_run_picks_newest_or_named_epoch(tmp_path):
    _, net = toy()
    for epoch in (1, 5, 3):
        save_checkpoint(checkpoint_path(str(tmp_path), "toy", "base", "TOY", epoch), {"net": net.state_dict()})
    assert resolve_init_from("toy:base", str(tmp_path)).endswith("TOY_ep0005.pth.tar")
    assert resolve_init_from("toy:base:3", str(tmp_path)).endswith("TOY_ep0003.pth.tar")
    with pytest.raises(FileNotFoundError, match="train that stage first"):
        resolve_init_from("toy:other", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="neither an existing file"):
        resolve_init_from("nonsense", str(tmp_path))


def test_init_weights_load_non_strictly_but_not_from_an_unrelated_file(tmp_path):
    _, net = toy()
    state = {k: v for k, v in net.state_dict().items() if k.startswith("backbone")}
    save_checkpoint(str(tmp_path / "stage1.pth.tar"), {"net": state})
    _, fresh = toy()
    missing, unexpected = load_init_weights(fresh, str(tmp_path / "stage1.pth.tar"))
    assert missing == ["box_head.weight", "box_head.bias"] and not unexpected
    assert torch.equal(fresh.backbone[0].weight, net.backbone[0].weight)
    save_checkpoint(str(tmp_path / "other.pth.tar"), {"net": {"unrelated.weight": torch.zeros(1)}})
    with pytest.raises(ValueError, match="provides 0 of the 2 non-head entries"):
        load_init_weights(fresh, str(tmp_path / "other.pth.tar"))


def test_init_weights_pass_through_the_family_rename(tmp_path):
    """TRAIN.INIT_FROM from an official-style checkpoint: the family's adapt_state_dict renames before loading."""
    _, net = toy()
    official = {k.replace("box_head.", "official_head."): v for k, v in net.state_dict().items()}
    save_checkpoint(str(tmp_path / "official.pth.tar"), {"net": official})
    _, fresh = toy()
    missing, _ = load_init_weights(fresh, str(tmp_path / "official.pth.tar"))
    assert missing == ["box_head.weight", "box_head.bias"]
    missing, unexpected = load_init_weights(
        fresh, str(tmp_path / "official.pth.tar"),
        adapt=lambda state: {k.replace("official_head.", "box_head."): v for k, v in state.items()})
    assert not missing and not unexpected
    assert torch.equal(fresh.box_head.weight, net.box_head.weight)
