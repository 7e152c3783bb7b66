"""Two gloo processes with half the batch each produce the gradients of one process with the whole batch."""
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lib.config.defaults import get_default_config
from lib.train.optim import build_optimizer, build_scheduler, default_param_groups
from lib.train.trainer import Trainer
from tests.fixtures.toy_family import add_config, build_actor, build_model
from tests.train._toy_run import make_batches


def make(net):
    cfg = get_default_config()
    add_config(cfg, "toy")
    cfg.TRAIN.GRAD_CLIP_NORM = 0.0
    optimizer = build_optimizer(default_param_groups(net, cfg), cfg)
    return Trainer(build_actor(net, cfg, "toy"), [], optimizer, build_scheduler(optimizer, cfg, 1),
                   checkpoint_dir="unused", prefix="TOY", max_epochs=1, device=torch.device("cpu"),
                   printer=lambda _: None)


def toy_net():
    cfg = get_default_config()
    add_config(cfg, "toy")
    torch.manual_seed(0)
    return build_model(cfg, True)


def grads_after_step(trainer):
    return {n: p.grad.clone() for n, p in trainer.net.named_parameters()}


def worker(rank, world_size, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    net = torch.nn.parallel.DistributedDataParallel(toy_net())
    trainer = make(net)
    batch = make_batches(1)[0]
    half = {k: v[:, rank * 2:(rank + 1) * 2] for k, v in batch.items()}
    trainer.train_step(half)
    torch.save(grads_after_step(trainer), os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_gradients_match_single_process(tmp_path):
    mp.start_processes(worker, args=(2, free_port(), str(tmp_path)), nprocs=2, start_method="spawn")
    single = make(toy_net())
    single.train_step(make_batches(1)[0])
    reference = grads_after_step(single)
    for rank in range(2):
        ddp = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        for name, grad in reference.items():
            torch.testing.assert_close(ddp[name], grad, rtol=1e-5, atol=1e-6)
