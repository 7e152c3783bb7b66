"""Trainer: checkpoints load with weights_only, a killed run resumes to the same result, NaN stops, schedules."""
import math
import os
import subprocess
import sys

import pytest
import torch

from lib.config.defaults import get_default_config
from lib.config.node import ConfigError
from lib.families import get_config_schema
from lib.train import optim
from lib.train.hooks import TrainerHook
from lib.train.optim import (build_optimizer, build_scheduler, default_param_groups, lr_factor, register_optimizer,
                             register_schedule)
from lib.train.trainer import NonFiniteLossError, Trainer
from lib.utils.checkpoint import CheckpointError, list_checkpoints
from tests.fixtures.toy_family import add_config, build_actor, build_model
from tests.train._toy_run import EpochLoader, make_batches

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_toy(ckpt_dir, epochs, die_at=None):
    cmd = [sys.executable, "-m", "tests.train._toy_run", str(ckpt_dir), str(epochs)]
    if die_at is not None:
        cmd.append(str(die_at))
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path):
    straight = run_toy(tmp_path / "a", 3)
    assert straight.returncode == 0, straight.stderr
    crashed = run_toy(tmp_path / "b", 3, die_at=7)  # dies in the middle of epoch 2
    assert crashed.returncode == 17
    assert [e for e, _ in list_checkpoints(str(tmp_path / "b"))] == [1]
    assert not [f for f in os.listdir(tmp_path / "b") if f.endswith(".tmp")]
    resumed = run_toy(tmp_path / "b", 3)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    a = torch.load(tmp_path / "a" / "TOY_ep0003.pth.tar", weights_only=True)
    b = torch.load(tmp_path / "b" / "TOY_ep0003.pth.tar", weights_only=True)
    assert a["epoch"] == b["epoch"] == 3 and a["global_step"] == b["global_step"] == 12
    for key in a["net"]:
        torch.testing.assert_close(a["net"][key], b["net"][key])


def make_trainer(tmp_path, actor_fn=None, epochs=1, hooks=()):
    cfg = get_default_config()
    add_config(cfg, "toy")
    cfg.freeze()
    net = build_model(cfg, True)
    optimizer = build_optimizer(default_param_groups(net, cfg), cfg)
    actor = actor_fn(net) if actor_fn else build_actor(net, cfg, "toy")
    return Trainer(actor, EpochLoader(None), optimizer, build_scheduler(optimizer, cfg, 4),
                   checkpoint_dir=str(tmp_path), prefix="TOY", max_epochs=epochs, device=torch.device("cpu"),
                   printer=lambda _: None, hooks=hooks)


def test_checkpoint_holds_plain_data_only(tmp_path):
    trainer = make_trainer(tmp_path)
    trainer.train()
    ckpt = torch.load(tmp_path / "TOY_ep0001.pth.tar", weights_only=True)
    assert {"net", "optimizer", "scheduler", "epoch", "rng", "net_type"} <= set(ckpt)
    assert ckpt["net_type"] == "ToyNet"


def test_non_finite_loss_stops_with_step_parts_and_sequences(tmp_path):
    class NanActor:
        def __init__(self, net):
            self.net = net

        def train(self, mode=True):
            pass

        def __call__(self, data):
            loss = self.net(data["template_images"][0], data["search_images"][0]).sum() * float("nan")
            return loss, {"Loss/giou": 0.5}

    trainer = make_trainer(tmp_path, NanActor)
    batch = make_batches(1)[0]
    batch["seq_name"] = ["car-1", "dog-3"]
    with pytest.raises(NonFiniteLossError, match=r"step 1.*Loss/giou.*car-1"):
        trainer.train_step(batch)


def test_lr_schedules():
    cfg = get_default_config()
    cfg.TRAIN.LR_DROP_EPOCH = 40
    assert lr_factor(cfg, 39.9) == 1.0 and lr_factor(cfg, 40.0) == pytest.approx(0.1)
    cfg.TRAIN.SCHEDULER.TYPE = "cosine"
    cfg.TRAIN.EPOCH = 10
    assert lr_factor(cfg, 5.0) == pytest.approx(0.5)
    cfg.TRAIN.SCHEDULER.TYPE = "Mstep"
    cfg.TRAIN.SCHEDULER.MILESTONES = [2, 4]
    assert lr_factor(cfg, 4.5) == pytest.approx(0.01)
    cfg.TRAIN.SCHEDULER.WARMUP_EPOCHS = 2
    assert lr_factor(cfg, 1.0) == pytest.approx((1.0 + 1e-3) / 2)
    cfg.TRAIN.SCHEDULER.TYPE = "linear"
    with pytest.raises(ConfigError, match=r"SCHEDULER.TYPE.*'linear'.*valid: cosine, mstep, step"):
        lr_factor(cfg, 0)


def test_optimisers_and_schedules_come_from_registries(monkeypatch):
    """A family registers a name once; TRAIN.OPTIMIZER / SCHEDULER.TYPE pick it, in any case."""
    for table in ("_OPTIMIZERS", "_SCHEDULES"):  # the names registered here stay in this test
        monkeypatch.setattr(optim, table, dict(getattr(optim, table)))
    cfg = get_default_config()
    net = torch.nn.Linear(2, 2)
    cfg.TRAIN.OPTIMIZER = "sgd"
    assert isinstance(build_optimizer(default_param_groups(net, cfg), cfg), torch.optim.SGD)
    cfg.TRAIN.OPTIMIZER = "RMSPROP_TEST"
    with pytest.raises(ConfigError, match=r"TRAIN.OPTIMIZER.*valid: adamw, sgd"):
        build_optimizer(default_param_groups(net, cfg), cfg)
    register_optimizer("rmsprop_test", lambda groups, c: torch.optim.RMSprop(groups, lr=c.TRAIN.LR))
    register_schedule("halves_test", lambda c, epoch: 0.5 ** int(epoch))
    with pytest.raises(ValueError, match="already registered"):
        register_schedule("HALVES_TEST", lambda c, epoch: 1.0)
    optimizer = build_optimizer(default_param_groups(net, cfg), cfg)
    assert isinstance(optimizer, torch.optim.RMSprop)
    cfg.TRAIN.SCHEDULER.TYPE = "Halves_Test"
    scheduler = build_scheduler(optimizer, cfg, iters_per_epoch=2)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(cfg.TRAIN.LR * 0.25)


def test_find_unused_parameters_is_off_by_default_and_on_where_the_official_recipe_has_it():
    assert get_default_config().TRAIN.FIND_UNUSED_PARAMETERS is False
    for script in ("stark_s", "stark_st2", "ostrack"):  # the official recipes wrap DDP with it on
        assert get_config_schema(script).TRAIN.FIND_UNUSED_PARAMETERS is True


class RecordingHook(TrainerHook):
    """Records the calls and adds a second loss term: 100 x the squared norm of the box head's bias."""

    def __init__(self):
        self.calls = []

    def before_epoch(self, trainer, epoch, training):
        self.calls.append(("before_epoch", epoch, training))

    def before_step(self, trainer, batch):
        self.calls.append(("before_step", batch["epoch"]))

    def adjust_loss(self, trainer, batch, loss, stats):
        extra = 100.0 * trainer.net.box_head.bias.pow(2).sum()
        stats["Loss/extra"] = extra.item()
        return loss + extra

    def after_step(self, trainer, batch, stats):
        self.calls.append(("after_step", "Loss/extra" in stats))

    def after_epoch(self, trainer, epoch, training, stats):
        self.calls.append(("after_epoch", epoch, "Loss/extra" in stats))


def test_hooks_run_around_steps_and_epochs_and_add_a_loss(tmp_path):
    torch.manual_seed(0)
    plain = make_trainer(tmp_path / "a")
    torch.manual_seed(0)
    hook = RecordingHook()
    hooked = make_trainer(tmp_path / "b", hooks=[hook])
    batch = make_batches(1)[0]
    hooked.run_epoch([batch, batch], training=True)
    assert hook.calls == [("before_epoch", 1, True), ("before_step", 1), ("after_step", True), ("before_step", 1),
                          ("after_step", True), ("after_epoch", 1, True)]
    plain.run_epoch([batch, batch], training=True)
    # The extra term pulls the bias towards zero much harder than the box loss alone does.
    assert hooked.net.box_head.bias.norm() < plain.net.box_head.bias.norm()


def test_backbone_parameters_get_the_multiplier():
    cfg = get_default_config()
    add_config(cfg, "toy")
    net = build_model(cfg, True)
    groups = default_param_groups(net, cfg)
    lrs = sorted(g["lr"] for g in groups)
    assert lrs == [pytest.approx(cfg.TRAIN.LR * cfg.TRAIN.BACKBONE_MULTIPLIER), cfg.TRAIN.LR]
    n_backbone = sum(p.numel() for p in net.backbone.parameters())
    assert any(sum(p.numel() for p in g["params"]) == n_backbone and g["lr"] < cfg.TRAIN.LR for g in groups)
    assert not math.isnan(groups[0]["lr"])


def test_resuming_from_a_weights_only_file_points_to_init_from(tmp_path):
    from lib.utils.checkpoint import save_checkpoint

    trainer = make_trainer(tmp_path)
    save_checkpoint(str(tmp_path / "weights.pth.tar"), {"net": trainer.net.state_dict()})
    with pytest.raises(CheckpointError, match="TRAIN.INIT_FROM"):
        trainer.resume(str(tmp_path / "weights.pth.tar"))


def test_adamw_uses_the_fused_kernel_and_matches_the_plain_update():
    cfg = get_default_config()
    add_config(cfg, "toy")
    cfg.freeze()
    torch.manual_seed(0)
    nets = [build_model(cfg, True) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    fused = build_optimizer(default_param_groups(nets[0], cfg), cfg)
    plain = torch.optim.AdamW(default_param_groups(nets[1], cfg), lr=cfg.TRAIN.LR, weight_decay=cfg.TRAIN.WEIGHT_DECAY)
    assert fused.defaults["fused"] is True
    for net, opt in zip(nets, (fused, plain)):
        for _ in range(3):
            opt.zero_grad()
            sum((p * p).sum() for p in net.parameters()).backward()
            opt.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(a, b)
