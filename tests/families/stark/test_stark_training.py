"""STARK training: the box losses (hand values), the stage-2 score-head loss and freeze, the declared stage checks
and the data options."""
import pytest
import torch

from lib.config import ConfigError
from lib.families import get_family, load_config
from lib.families.stark.actor import STARKActor
from lib.train.optim import build_optimizer, default_param_groups
from lib.train.staging import apply_freeze


def _batch(num_templates, batch=2):
    return {"template_images": torch.randn(num_templates, batch, 3, 64, 64),
            "template_att": torch.zeros(num_templates, batch, 64, 64, dtype=torch.bool),
            "search_images": torch.randn(1, batch, 3, 128, 128),
            "search_att": torch.zeros(1, batch, 128, 128, dtype=torch.bool),
            "search_anno": torch.tensor([[[0.3, 0.3, 0.4, 0.4], [0.1, 0.2, 0.3, 0.2]]]),
            "label": torch.tensor([[1.0, 0.0]])}


def _actor(weights=None, objective="box"):
    return STARKActor(torch.nn.Identity(), weights or {"giou": 2.0, "l1": 5.0}, 1, objective)


def test_box_losses_zero_for_a_perfect_prediction():
    gt = torch.tensor([[0.2, 0.3, 0.4, 0.2]])  # x, y, w, h
    pred = torch.tensor([[[0.4, 0.4, 0.4, 0.2]]])  # cx, cy, w, h of the same box
    loss, stats = _actor().box_losses(pred, gt)
    assert loss.item() == pytest.approx(0.0, abs=1e-6) and stats["IoU"] == pytest.approx(1.0)


def test_box_losses_hand_values():
    gt = torch.tensor([[0.0, 0.0, 0.5, 0.5]])  # xyxy (0, 0, 0.5, 0.5)
    pred = torch.tensor([[[0.5, 0.25, 0.5, 0.5]]])  # xyxy (0.25, 0, 0.75, 0.5)
    loss, stats = _actor().box_losses(pred, gt)
    iou = 0.125 / 0.375  # intersection 0.25 x 0.5, union 2 x 0.25 - 0.125
    giou = iou - (0.375 - 0.375) / 0.375  # the enclosing box (0, 0, 0.75, 0.5) equals the union here
    l1 = (0.25 + 0 + 0.25 + 0) / 4
    assert stats["Loss/giou"] == pytest.approx(1 - giou)
    assert stats["Loss/l1"] == pytest.approx(l1)
    assert loss.item() == pytest.approx(2 * (1 - giou) + 5 * l1)


def test_ground_truth_is_clamped_to_the_crop():
    gt = torch.tensor([[-0.2, 0.5, 0.4, 0.8]])  # xyxy (-0.2, 0.5, 0.2, 1.3) -> clamped (0, 0.5, 0.2, 1)
    pred = torch.tensor([[[0.1, 0.75, 0.2, 0.5]]])
    loss, _ = _actor().box_losses(pred, gt)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_inverted_prediction_drops_the_giou_term_like_the_official_actor():
    gt = torch.tensor([[0.2, 0.2, 0.4, 0.4]])
    pred = torch.tensor([[[0.4, 0.4, -0.1, 0.2]]])  # x2 < x1
    loss, stats = _actor().box_losses(pred, gt)
    assert stats["Loss/giou"] == 0.0 and stats["IoU"] == 0.0
    assert loss.item() == pytest.approx(5 * stats["Loss/l1"]) and stats["Loss/l1"] > 0


def test_nan_prediction_stops_training():
    with pytest.raises(ValueError, match="NAN"):
        _actor().box_losses(torch.full((1, 1, 4), float("nan")), torch.zeros(1, 4))


def test_cls_loss_is_bce_with_logits():
    logits = torch.tensor([[[2.0]], [[-1.0]]])
    loss, stats = _actor({"cls": 1.0}, "cls").cls_loss(logits, torch.tensor([[1.0, 0.0]]))
    import math

    expected = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(-1.0))) / 2
    assert loss.item() == pytest.approx(expected) and stats["cls_loss"] == pytest.approx(expected)


def test_stage1_actor_trains_box_parts():
    cfg = load_config("stark_st1", "tiny")
    family = get_family("stark_st1")
    net = family.build_model(cfg, False)
    actor = family.build_actor(net, cfg, "stark_st1")
    loss, stats = actor(_batch(2))
    assert set(stats) == {"Loss/total", "Loss/giou", "Loss/l1", "IoU"} and torch.isfinite(loss)
    loss.backward()
    assert net.box_head.conv1_tl[0].weight.grad is not None
    assert net.cls_head.layers[0].weight.grad is None  # stage 1 does not run the score head


def _stage2():
    cfg = load_config("stark_st2", "tiny")
    family = get_family("stark_st2")
    net = family.build_model(cfg, False)
    return cfg, family, net


def test_stage2_step_changes_only_the_score_head():
    cfg, family, net = _stage2()
    trainable = apply_freeze(net, list(cfg.TRAIN.FREEZE), list(cfg.TRAIN.TRAINABLE))
    assert trainable and all(n.startswith("cls_head.") for n in trainable)
    optimizer = build_optimizer(default_param_groups(net, cfg), cfg)
    actor = family.build_actor(net, cfg, "stark_st2")
    actor.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    loss, stats = actor(_batch(cfg.DATA.TEMPLATE.NUMBER))
    assert set(stats) == {"cls_loss"}
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("cls_head.") for k in changed)
    assert {f"cls_head.layers.{i}.weight" for i in range(3)} <= changed


def test_stage2_is_declared_in_config():
    cfg = load_config("stark_st2", "tiny")
    assert cfg.TRAIN.INIT_FROM == "stark_st1:tiny"
    options = get_family("stark_st2").data_options(cfg, "stark_st2")
    assert options["sampler"] == {"train_cls": True}
    assert options["processing"]["norm_by"] == "out"
    assert get_family("stark_s").data_options(load_config("stark_s", "tiny"), "stark_s")["sampler"] == \
        {"train_cls": False}


@pytest.mark.parametrize("opts,message", [
    (["TRAIN.TRAIN_CLS", "false"], "TRAIN_CLS"),
    (["TRAIN.TRAINABLE", "[cls_head, box_head]"], "TRAINABLE"),
    (["TRAIN.INIT_FROM", "''"], "INIT_FROM"),
])
def test_stage2_inconsistent_settings_fail(opts, message):
    cfg = load_config("stark_st2", "tiny", opts)
    with pytest.raises(ConfigError, match=message):
        get_family("stark_st2").build_actor(torch.nn.Identity(), cfg, "stark_st2")


def test_template_count_mismatch_is_reported():
    cfg = load_config("stark_s", "tiny")
    actor = get_family("stark_s").build_actor(get_family("stark_s").build_model(cfg, False), cfg, "stark_s")
    with pytest.raises(ValueError, match="TEMPLATE.NUMBER"):
        actor(_batch(2))
