"""Test-time parameters of one tracker: resolved once from (tracker name, config name), then passed around.

A tracker name maps through the family registry to the training script whose experiment file and checkpoints it
uses. Trackers without training (baselines) map to the empty script: their config name is just an option string
(e.g. the OpenCV algorithm) and they have no cfg and no checkpoint.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from lib.config import config_label
from lib.config.node import CfgNode
from lib.families import Family, get_tracker_family, load_config
from lib.utils.checkpoint import checkpoint_path
from lib.utils.cli import UserError


class MissingCheckpointError(UserError, FileNotFoundError):
    """The checkpoint a tracker needs is not on disk; the message names the expected file."""


@dataclass
class TrackerParams:
    """Everything a family's `build_tracker(params)` may read.

    checkpoint is None only when weights are deliberately not loaded (random initialisation, for tests) or the
    tracker has no network. `dataset_name` lets trackers pick per-dataset settings (e.g. update intervals).
    """

    tracker_name: str
    config_name: str
    family: Family
    train_script: str = ""
    cfg: CfgNode | None = None
    checkpoint: str | None = None
    template_factor: float | None = None
    template_size: int | None = None
    search_factor: float | None = None
    search_size: int | None = None
    device: str = "cpu"
    debug: int = 0
    dataset_name: str = ""
    dtype: str = "fp32"  # the search step under autocast in fp16 / bf16 (lib/test/tracker/accel.py)
    cuda_graph: bool = False  # the search step replayed as a CUDA graph

    @property
    def has_network(self) -> bool:
        return bool(self.train_script)

    @classmethod
    def create(cls, tracker_name: str, config_name: str, *, dataset_name: str = "", checkpoint: str | None = None,
               load_weights: bool = True, device: str = "cpu", debug: int = 0, save_dir: str | None = None,
               opts: tuple[str, ...] | list[str] = (), dtype: str = "fp32", cuda_graph: bool = False
               ) -> "TrackerParams":
        """Resolve a tracker's family, config and checkpoint.

        checkpoint: explicit file; default `<save_dir>/checkpoints/train/<script>/<config>/<Prefix>_ep%04d.pth.tar`
        with cfg.TEST.EPOCH (save_dir from the environment unless given). Raises MissingCheckpointError when the
        file is missing. load_weights=False skips the checkpoint (random weights).
        opts: config overrides `KEY VALUE ...` applied after the experiment file.
        dtype, cuda_graph: how the tracker's search step runs (`lib.test.tracker.accel.accelerate`).
        """
        from lib.test.tracker.accel import DTYPES

        if dtype not in DTYPES:
            raise UserError(f"--dtype {dtype}: choose {', '.join(DTYPES)}")
        if cuda_graph and not device.startswith("cuda"):
            raise UserError(f"--cuda_graph needs --device cuda (the device is {device})")
        family, script = get_tracker_family(tracker_name)
        common = dict(tracker_name=tracker_name, config_name=config_label(config_name), family=family,
                      train_script=script, device=device, debug=debug, dataset_name=dataset_name, dtype=dtype,
                      cuda_graph=cuda_graph)
        if not script:
            if dtype != "fp32" or cuda_graph:
                raise UserError(f"--dtype / --cuda_graph: tracker '{tracker_name}' has no network to run faster")
            return cls(**common)
        cfg = load_config(script, config_name, opts)
        ckpt = None
        if load_weights:
            ckpt = checkpoint or default_checkpoint(family, script, config_label(config_name), cfg.TEST.EPOCH,
                                                    save_dir)
            if not os.path.isfile(ckpt):
                raise MissingCheckpointError(
                    f"tracker '{tracker_name}' with config '{config_name}' needs the checkpoint {ckpt}, which does "
                    f"not exist. Train it (python tracking/train.py --script {script} --config {config_name}), "
                    f"pass --checkpoint PATH, or set --save_dir / TRACKZOO_SAVE_DIR to the folder holding "
                    f"checkpoints/.")
        test = cfg.TEST
        return cls(**common, cfg=cfg, checkpoint=ckpt, template_factor=test.TEMPLATE_FACTOR,
                   template_size=test.TEMPLATE_SIZE, search_factor=test.SEARCH_FACTOR, search_size=test.SEARCH_SIZE)


def default_checkpoint(family: Family, script: str, config: str, epoch: int, save_dir: str | None = None) -> str:
    """Where training script `script` saved epoch `epoch` of `config`."""
    if save_dir is None:
        from lib.utils.env import env_settings

        save_dir = env_settings().save_dir
    return checkpoint_path(save_dir, script, config, family.checkpoint_prefix(script), epoch)
