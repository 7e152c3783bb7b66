"""A resumed DDP run continues every rank's own random streams (found by the DDP rank kill test: with rank 0's
states on every rank, dropout masks of the other ranks changed and the resumed run drifted)."""
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lib.utils.checkpoint import load_training_checkpoint
from tests.train.test_ddp import free_port, make, toy_net


def worker(rank, world_size, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    trainer = make(torch.nn.parallel.DistributedDataParallel(toy_net()))
    trainer.checkpoint_dir = out_dir
    torch.manual_seed(100 + rank)
    trainer.state.epoch = 1
    trainer.save()  # every rank calls it; rank 0 writes
    expected = torch.rand(3)
    dist.barrier()
    trainer.load_state("ckpt", load_training_checkpoint(os.path.join(out_dir, "TOY_ep0001.pth.tar")))
    torch.save({"expected": expected, "resumed": torch.rand(3)}, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def test_each_rank_resumes_its_own_random_state(tmp_path):
    mp.start_processes(worker, args=(2, free_port(), str(tmp_path)), nprocs=2, start_method="spawn")
    draws = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for draw in draws:
        assert torch.equal(draw["resumed"], draw["expected"])
    assert not torch.equal(draws[0]["expected"], draws[1]["expected"])
    assert len(torch.load(tmp_path / "TOY_ep0001.pth.tar", weights_only=True)["rng_ranks"]) == 2
