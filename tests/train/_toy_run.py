"""Subprocess body for the trainer tests: trains the toy family on fixed batches, optionally dying mid-epoch."""
import os
import sys

import torch

from lib.config.defaults import get_default_config
from lib.train.optim import build_optimizer, build_scheduler, default_param_groups
from lib.train.trainer import Trainer
from tests.fixtures.toy_family import add_config, build_actor, build_model

ITERS = 4


def make_batches(epoch: int) -> list[dict]:
    g = torch.Generator().manual_seed(epoch)
    batches = []
    for _ in range(ITERS):
        boxes = torch.rand(1, 4, 4, generator=g) * 0.5
        batches.append({"template_images": torch.rand(1, 4, 3, 16, 16, generator=g),
                        "search_images": torch.rand(1, 4, 3, 32, 32, generator=g),
                        "search_anno": boxes})
    return batches


class EpochLoader:
    """Deterministic batches per epoch, like the real sampler seeded by (seed, epoch, index)."""

    def __init__(self, die_at: int | None):
        self.epoch, self.die_at, self.seen = 1, die_at, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return ITERS

    def __iter__(self):
        for batch in make_batches(self.epoch):
            self.seen += 1
            if self.die_at is not None and self.seen == self.die_at:
                os._exit(17)  # simulated crash mid-epoch, no cleanup
            yield batch


def main(ckpt_dir: str, epochs: int, die_at: int | None) -> None:
    torch.manual_seed(0)
    cfg = get_default_config()
    add_config(cfg, "toy")
    cfg.TRAIN.EPOCH = epochs
    cfg.freeze()
    net = build_model(cfg, True)
    optimizer = build_optimizer(default_param_groups(net, cfg), cfg)
    scheduler = build_scheduler(optimizer, cfg, ITERS)
    trainer = Trainer(build_actor(net, cfg, "toy"), EpochLoader(die_at), optimizer, scheduler,
                      checkpoint_dir=ckpt_dir, prefix="TOY", max_epochs=epochs, device=torch.device("cpu"),
                      grad_clip_norm=0.1, print_interval=2)
    trainer.resume("latest")
    trainer.train()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
