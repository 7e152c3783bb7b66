"""Training worker: one process of a (possibly torchrun-launched) run.

    python tracking/train.py --script stark_s --config baseline --save_dir . --mode single
    python -m torch.distributed.run --nproc_per_node 8 lib/train/run_training.py --script ostrack \
        --config vitb_256_mae_ce_32x4_ep300 --save_dir .
"""
from __future__ import annotations

if __package__ in (None, ""):  # run by path (torchrun lib/train/run_training.py): use the entry-point bootstrap
    import runpy
    from pathlib import Path

    runpy.run_path(str(Path(__file__).resolve().parents[2] / "tracking" / "_init_paths.py"))

import argparse
import logging
import os
import random
import sys
import time
from contextlib import nullcontext
from typing import Any, Sequence

import numpy as np
import torch

from lib.config import ConfigError, config_label
from lib.families import get_family, load_config
from lib.train.admin.settings import RunSettings
from lib.train.dataset.catalog import require_train_dataset
from lib.train.optim import build_optimizer, build_scheduler, default_param_groups
from lib.train.run_lock import RunLock
from lib.train.staging import apply_freeze, load_init_weights, resolve_init_from
from lib.train.trainer import Trainer
from lib.utils import dist
from lib.utils.checkpoint import checkpoint_dir, find_resume_checkpoint, latest_checkpoint
from lib.utils.cli import UserError, run_main
from lib.utils.device import cpu_threads_per_process, resolve_device
from lib.utils.env import MissingPathError, env_settings
from lib.utils.io import atomic_write_text, remove_stale_temporaries
from lib.utils.process import exit_cleanly_on_sigterm, exit_with_parent, launched

log = logging.getLogger("trackzoo.train")


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--script", required=True, help="training script, e.g. stark_s, stark_st2, ostrack")
    parser.add_argument("--config", required=True, help="experiment name in experiments/<script>/ or a YAML path")
    parser.add_argument("--save_dir", default=None, help="root of checkpoints/ and logs/ (default: the save root)")
    parser.add_argument("--data_dir", default=None, help="data root (default: TRACKZOO_DATA_DIR or ./data)")
    parser.add_argument("--use_lmdb", type=int, choices=[0, 1], default=0)
    parser.add_argument("--use_wandb", type=int, choices=[0, 1], default=0)
    parser.add_argument("--script_prv", default=None, help="previous stage's script (sets TRAIN.INIT_FROM)")
    parser.add_argument("--config_prv", default=None, help="previous stage's config (sets TRAIN.INIT_FROM)")
    parser.add_argument("--resume", default="latest", help="latest (default), none, or a checkpoint path")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--opts", nargs="*", default=[], help="config overrides: KEY VALUE ...")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="TrackZoo training worker")
    add_worker_arguments(parser)
    # Launchers before torch 2.0 pass --local_rank, newer ones --local-rank or only the LOCAL_RANK variable.
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def config_overrides(args: argparse.Namespace) -> list[str]:
    opts = list(args.opts)
    if bool(args.script_prv) != bool(args.config_prv):
        raise ConfigError("--script_prv and --config_prv go together; give both or neither")
    if args.script_prv:
        opts += ["TRAIN.INIT_FROM", f"{args.script_prv}:{args.config_prv}"]
    return opts


def seed_everything(seed: int, rank: int) -> None:
    random.seed(seed + rank)
    np.random.seed(seed + rank)
    torch.manual_seed(seed + rank)


def setup_logging(settings: RunSettings) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if settings.rank == 0:
        os.makedirs(os.path.dirname(settings.log_file), exist_ok=True)
        handlers.append(logging.FileHandler(settings.log_file))
    logging.basicConfig(level=logging.INFO if settings.rank == 0 else logging.WARNING,
                        format="%(message)s", handlers=handlers, force=True)


def make_writers(settings: RunSettings, cfg_text: str) -> list:
    """TensorBoard always (rank 0), Weights & Biases when asked."""
    if settings.rank != 0:
        return []
    from torch.utils.tensorboard import SummaryWriter

    tb = SummaryWriter(settings.tensorboard_dir)
    tb.add_text("config", f"```\n{cfg_text}\n```")

    def write_tb(name: str, stats: dict[str, float], step: int) -> None:
        for key, value in stats.items():
            tb.add_scalar(f"{name}/{key}", value, step)
        tb.flush()

    writers = [write_tb]
    if settings.use_wandb:
        try:
            import wandb
        except ImportError as e:
            raise UserError("--use_wandb 1 needs the wandb package: pip install wandb, or pass --use_wandb 0") from e
        run = wandb.init(project="trackzoo", name=f"{settings.script}-{settings.config}", config={"cfg": cfg_text})
        writers.append(lambda name, stats, step: run.log({f"{name}/{k}": v for k, v in stats.items()}, step=step))
    return writers


def build_net(family, cfg, settings: RunSettings, device: torch.device, resuming: bool) -> torch.nn.Module:
    """The model, initialised from TRAIN.INIT_FROM unless the run resumes from its own checkpoint."""
    net = family.build_model(cfg, True)
    if cfg.TRAIN.INIT_FROM and not resuming:
        path = resolve_init_from(cfg.TRAIN.INIT_FROM, settings.save_dir)
        missing, unexpected = load_init_weights(net, path, cfg.TRAIN.INIT_MIN_MATCH, family.adapt_state_dict)
        log.info(f"initialised from {path}; missing keys: {len(missing)} "
                 f"({', '.join(sorted({k.split('.')[0] for k in missing})) or '-'}), unexpected: {len(unexpected)}")
    trainable = apply_freeze(net, list(cfg.TRAIN.FREEZE), list(cfg.TRAIN.TRAINABLE))
    log.info(f"{type(net).__name__}: {sum(p.numel() for p in net.parameters()):,} parameters, "
             f"{len(trainable)} trainable tensors")
    return net.to(device)


def save_resolved_config(folder: str, text: str) -> None:
    """`config.yaml` of the run; a different earlier one is kept as `config.<its UTC time>.yaml`."""
    path = os.path.join(folder, "config.yaml")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            previous = f.read()
        if previous == text:
            return
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(os.path.getmtime(path)))
        kept, n = os.path.join(folder, f"config.{stamp}.yaml"), 1
        while os.path.exists(kept):
            n += 1
            kept = os.path.join(folder, f"config.{stamp}-{n}.yaml")
        atomic_write_text(kept, previous)
        log.info(f"the config differs from the previous run's; that one is kept as {kept}")
    atomic_write_text(path, text)


def run(args: argparse.Namespace) -> None:
    device_type = resolve_device(args.device)
    rank, local_rank, world_size = dist.init_distributed(device_type)
    env = env_settings(data_dir=args.data_dir, save_dir=args.save_dir)
    settings = RunSettings(script=args.script, config=config_label(args.config),
                           save_dir=os.path.abspath(args.save_dir or env.save_dir), env=env,
                           use_lmdb=bool(args.use_lmdb), use_wandb=bool(args.use_wandb), seed=args.seed,
                           resume=args.resume, rank=rank, local_rank=local_rank, world_size=world_size,
                           device=device_type)
    setup_logging(settings)
    seed_everything(args.seed, rank)
    family = get_family(args.script)
    cfg = load_config(args.script, args.config, config_overrides(args))
    # Only rank 0 writes the run folder, so only it holds the lock.
    with RunLock(settings.checkpoint_dir, log.info) if rank == 0 else nullcontext():
        if rank == 0:
            remove_stale_temporaries(settings.checkpoint_dir)
        train(args, cfg, family, settings, device_type)


def train(args: argparse.Namespace, cfg, family, settings: RunSettings, device_type: str) -> None:
    rank, local_rank, world_size = settings.rank, settings.local_rank, settings.world_size
    device = torch.device(f"cuda:{local_rank}" if device_type == "cuda" else "cpu")
    cfg_text = cfg.dump()
    if device_type == "cpu" and "OMP_NUM_THREADS" not in os.environ:  # an explicit setting wins
        per_node = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))  # set by torchrun
        torch.set_num_threads(cpu_threads_per_process(per_node, busy_helpers=int(cfg.TRAIN.NUM_WORKER)))
        log.info(f"CPU training: {torch.get_num_threads()} compute thread(s) beside {cfg.TRAIN.NUM_WORKER} "
                 f"data worker(s)")
    prefix = family.checkpoint_prefix(args.script)
    resumed = find_resume_checkpoint(args.resume, settings.checkpoint_dir, prefix, log.info)

    from lib.train.data.loader import build_dataloaders

    data_options = family.data_options(cfg, args.script) if family.data_options else {}
    train_loader, val_loader = build_dataloaders(cfg, settings, data_options, rank, world_size)
    net = build_net(family, cfg, settings, device, resuming=resumed is not None)
    groups = family.param_groups(net, cfg) if family.param_groups else default_param_groups(net, cfg)
    optimizer = build_optimizer(groups, cfg)
    scheduler = build_scheduler(optimizer, cfg, max(len(train_loader), 1))
    if world_size > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[local_rank] if device_type == "cuda" else None,
            find_unused_parameters=cfg.TRAIN.FIND_UNUSED_PARAMETERS)
    actor = family.build_actor(net, cfg, args.script)
    amp = cfg.TRAIN.AMP and device_type == "cuda"
    trainer = Trainer(actor, train_loader, optimizer, scheduler, checkpoint_dir=settings.checkpoint_dir,
                      prefix=prefix, max_epochs=cfg.TRAIN.EPOCH, device=device,
                      grad_clip_norm=cfg.TRAIN.GRAD_CLIP_NORM, amp_dtype=cfg.TRAIN.AMP_DTYPE if amp else "",
                      val_loader=val_loader, val_interval=cfg.TRAIN.VAL_EPOCH_INTERVAL,
                      print_interval=cfg.TRAIN.PRINT_INTERVAL, save_every=cfg.TRAIN.SAVE_EVERY,
                      extra_state={"config": cfg_text, "script": args.script, "config_name": settings.config},
                      writers=make_writers(settings, cfg_text), printer=log.info,
                      hooks=family.trainer_hooks(net, cfg, args.script) if family.trainer_hooks else ())
    if resumed is not None:
        trainer.load_state(*resumed)
        del resumed  # the loaded checkpoint is not needed any more
    if rank == 0:  # the run starts: a launch rejected above leaves the previous run's config in place
        save_resolved_config(settings.checkpoint_dir, cfg_text)
    log.info(f"training {args.script}/{settings.config} on {world_size} process(es), {device_type}, "
             f"{len(train_loader)} iterations per epoch, epochs {trainer.state.epoch + 1}..{cfg.TRAIN.EPOCH}")
    trainer.train()
    log.info("finished training")


def check_before_launch(args: argparse.Namespace) -> Any:
    """What every worker would otherwise fail on, each with its own message, checked once by the launcher before
    any process starts: the device, the config (and the previous stage's), the training datasets' folders, a
    --resume file and, unless the run resumes from its own checkpoint, the TRAIN.INIT_FROM checkpoint. Returns the
    config."""
    resolve_device(args.device)
    family = get_family(args.script)
    cfg = load_config(args.script, args.config, config_overrides(args))
    if args.script_prv:
        try:
            load_config(args.script_prv, args.config_prv)
        except UserError as e:
            raise UserError(f"--script_prv {args.script_prv} --config_prv {args.config_prv}: {e}") from None
    env = env_settings(data_dir=args.data_dir, save_dir=args.save_dir)
    for name in [*cfg.DATA.TRAIN.DATASETS_NAME, *cfg.DATA.VAL.DATASETS_NAME]:
        try:
            require_train_dataset(name, bool(args.use_lmdb), env)
        except MissingPathError as e:
            raise MissingPathError(f"training dataset {name}: {e} On the command line: --data_dir DIR (the data "
                                   f"root).") from None
    if args.resume not in ("latest", "none") and not os.path.isfile(args.resume):
        raise MissingPathError(f"--resume {args.resume}: no such file; give a checkpoint, latest or none")
    save_dir = os.path.abspath(args.save_dir or env.save_dir)
    own = checkpoint_dir(save_dir, args.script, config_label(args.config))
    resumes = args.resume != "none" and (args.resume != "latest"
                                         or latest_checkpoint(own, family.checkpoint_prefix(args.script)) is not None)
    if cfg.TRAIN.INIT_FROM and not resumes:
        resolve_init_from(cfg.TRAIN.INIT_FROM, save_dir)
    return cfg


def main(argv: Sequence[str] | None = None) -> int:
    if launched():  # a killed launcher (or torchrun) takes its workers with it; a worker run by hand stays
        exit_with_parent()
    exit_cleanly_on_sigterm()
    args = parse_args(argv)
    try:
        run(args)
    finally:
        dist.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
