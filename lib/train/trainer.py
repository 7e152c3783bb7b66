"""Epoch loop: forward through the actor, AMP, gradient clipping, logging, atomic checkpoints and resume."""
from __future__ import annotations

import io
import logging
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import torch
import torch.nn as nn

from lib.train.hooks import TrainerHook
from lib.utils import dist
from lib.utils.checkpoint import find_resume_checkpoint, save_checkpoint

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; training stops instead of corrupting the weights."""


@dataclass
class TrainState:
    epoch: int = 0  # last completed epoch
    global_step: int = 0


@dataclass
class Meter:
    """Running averages of logged scalars, weighted by batch size."""

    sums: dict[str, float] = field(default_factory=dict)
    count: int = 0

    def update(self, stats: dict[str, float], n: int) -> None:
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0.0) + v * n
        self.count += n

    def averages(self) -> dict[str, float]:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}


def _format_seconds(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def rng_state() -> dict[str, Any]:
    """Random states as plain tensors/ints so the checkpoint loads with weights_only=True."""
    version, state, gauss = random.getstate()
    np_state = np.random.get_state()
    return {"python": [version, list(state), gauss], "numpy": [np_state[0], torch.from_numpy(np_state[1].copy()),
                                                                  *np_state[2:]],
            "torch": torch.get_rng_state()}


def all_rng_states() -> list[dict[str, Any]]:
    """The random states of every rank, in rank order (a resumed DDP run continues each rank's own streams)."""
    if not dist.is_distributed():
        return [rng_state()]
    buffer = io.BytesIO()
    torch.save(rng_state(), buffer)  # as bytes: all_gather_object cannot rebuild the uint32 numpy-state tensor
    states: list = [None] * dist.get_world_size()
    torch.distributed.all_gather_object(states, buffer.getvalue())
    return [torch.load(io.BytesIO(state), weights_only=True) for state in states]


def set_rng_state(state: dict[str, Any]) -> None:
    version, values, gauss = state["python"]
    random.setstate((version, tuple(values), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy(), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])


def batch_to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: batch_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(batch_to(v, device) for v in batch)
    return batch


class Trainer:
    """Trains `actor.net` (possibly DDP-wrapped) for `max_epochs`, checkpointing into `checkpoint_dir`."""

    def __init__(self, actor, train_loader: Iterable, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, *, checkpoint_dir: str, prefix: str,
                 max_epochs: int, device: torch.device, grad_clip_norm: float = 0.0, amp_dtype: str = "",
                 val_loader: Iterable | None = None, val_interval: int = 1, print_interval: int = 50,
                 save_every: int = 1, extra_state: dict[str, Any] | None = None,
                 writers: list[Callable[[str, dict[str, float], int], None]] | None = None,
                 printer: Callable[[str], None] = print, hooks: Iterable[TrainerHook] = ()):
        self.actor = actor
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.checkpoint_dir = checkpoint_dir
        self.prefix = prefix
        self.max_epochs = max_epochs
        self.device = device
        self.grad_clip_norm = grad_clip_norm
        self.val_interval = val_interval
        self.print_interval = print_interval
        self.save_every = save_every
        self.extra_state = extra_state or {}
        self.writers = writers or []
        self.printer = printer if dist.is_main_process() else (lambda _: None)
        self.state = TrainState()
        self.amp_dtype = {"": None, "fp16": torch.float16, "bf16": torch.bfloat16}[amp_dtype]
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.hooks = list(hooks)  # see lib/train/hooks.py

    # ----------------------------------------------------------------- checkpoints
    @property
    def net(self) -> nn.Module:
        net = self.actor.net
        return net.module if isinstance(net, nn.parallel.DistributedDataParallel) else net

    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "net_type": type(self.net).__name__,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "epoch": self.state.epoch,
            "global_step": self.state.global_step,
            "rng": rng_state(),
            **self.extra_state,
        }

    def save(self) -> str | None:
        """Rank 0 writes the checkpoint; every rank must call this (it gathers their random states)."""
        rng_ranks = all_rng_states()
        if not dist.is_main_process():
            return None
        path = f"{self.checkpoint_dir}/{self.prefix}_ep{self.state.epoch:04d}.pth.tar"
        save_checkpoint(path, {**self.checkpoint_state(), "rng_ranks": rng_ranks})
        return path

    def resume(self, spec: str = "latest") -> str | None:
        """Restore from 'latest' (the newest usable checkpoint here, if any), a path, or nothing ('none')."""
        found = find_resume_checkpoint(spec, self.checkpoint_dir, self.prefix, self.printer)
        if found is None:
            return None
        self.load_state(*found)
        return found[0]

    def load_state(self, path: str, ckpt: dict[str, Any]) -> None:
        """Continue from a loaded training checkpoint (see lib.utils.checkpoint.load_training_checkpoint)."""
        self.net.load_state_dict(ckpt["net"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.scaler and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.state = TrainState(epoch=int(ckpt["epoch"]), global_step=int(ckpt["global_step"]))
        ranks = ckpt.get("rng_ranks") or []
        same_layout = len(ranks) == dist.get_world_size()  # else every rank continues rank 0's streams
        set_rng_state(ranks[dist.get_rank()] if same_layout else ckpt["rng"])
        self.printer(f"resumed from {path} (epoch {self.state.epoch})")

    # ----------------------------------------------------------------- steps
    def _autocast(self):
        if self.amp_dtype is None or self.device.type != "cuda":
            return nullcontext()
        return torch.autocast("cuda", dtype=self.amp_dtype)

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        batch = batch_to(batch, self.device)
        batch["epoch"] = self.state.epoch + 1
        for hook in self.hooks:
            hook.before_step(self, batch)
        with self._autocast():
            loss, stats = self.actor(batch)
            for hook in self.hooks:
                loss = hook.adjust_loss(self, batch, loss, stats)
        if not torch.isfinite(loss):
            names = batch.get("seq_name", batch.get("dataset", "?"))
            raise NonFiniteLossError(
                f"non-finite loss {loss.item()} at epoch {self.state.epoch + 1}, step {self.state.global_step + 1}; "
                f"loss parts: {stats}; batch sequences: {names}")
        return loss, stats

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        loss, stats = self.forward(batch)
        self.optimizer.zero_grad(set_to_none=True)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)  # so that clipping sees true gradient norms
        else:
            loss.backward()
        if self.grad_clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip_norm)
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.state.global_step += 1
        for hook in self.hooks:
            hook.after_step(self, batch, stats)
        return stats

    # ----------------------------------------------------------------- loops
    def _set_epoch(self, loader: Iterable, epoch: int) -> None:
        for obj in (loader, getattr(loader, "sampler", None), getattr(loader, "dataset", None)):
            if obj is not None and hasattr(obj, "set_epoch"):
                obj.set_epoch(epoch)

    def _log(self, name: str, stats: dict[str, float], step: int) -> None:
        for write in self.writers:
            write(name, stats, step)

    def run_epoch(self, loader: Iterable, training: bool) -> dict[str, float]:
        epoch = self.state.epoch + 1
        self._set_epoch(loader, epoch)
        self.actor.train(training)
        for hook in self.hooks:
            hook.before_epoch(self, epoch, training)
        meter = Meter()
        total = len(loader)
        start = last = time.perf_counter()
        samples_since = 0
        with torch.set_grad_enabled(training):
            for i, batch in enumerate(loader, 1):
                if training:
                    stats = self.train_step(batch)
                else:
                    stats = self.forward(batch)[1]
                n = _batch_size(batch)
                meter.update(stats, n)
                samples_since += n
                if i % self.print_interval == 0 or i == total:
                    now = time.perf_counter()
                    rate = samples_since * dist.get_world_size() / max(now - last, 1e-9)
                    eta = (now - start) / i * ((total - i) + total * (self.max_epochs - epoch) * training)
                    avg = dist.all_reduce_mean(meter.averages(), self.device)
                    parts = ", ".join(f"{k}: {v:.4f}" for k, v in avg.items())
                    self.printer(f"[{'train' if training else 'val'}: epoch {epoch}/{self.max_epochs}, "
                                 f"iter {i}/{total}] {rate:.1f} samples/s, {parts}, ETA {_format_seconds(eta)}")
                    if training:
                        self._log("train_iter", {**avg, "samples_per_s": rate}, self.state.global_step)
                    last, samples_since = now, 0
        averages = dist.all_reduce_mean(meter.averages(), self.device)
        for hook in self.hooks:
            hook.after_epoch(self, epoch, training, averages)
        return averages

    def train(self) -> None:
        while self.state.epoch < self.max_epochs:
            stats = self.run_epoch(self.train_loader, training=True)
            epoch = self.state.epoch + 1
            lrs = {f"LearningRate/group{i}": g["lr"] for i, g in enumerate(self.optimizer.param_groups)}
            self._log("train", {**stats, **lrs}, epoch)
            if self.val_loader is not None and epoch % self.val_interval == 0:
                self._log("val", self.run_epoch(self.val_loader, training=False), epoch)
            self.state.epoch = epoch
            if epoch % self.save_every == 0 or epoch == self.max_epochs:
                path = self.save()
                if path:
                    self.printer(f"saved {path}")
            dist.barrier()


def _batch_size(batch: dict[str, Any]) -> int:
    for value in batch.values():
        if isinstance(value, torch.Tensor) and value.dim() >= 2:
            return int(value.shape[1])  # tensors are stacked as (frames, batch, ...)
    return 1

