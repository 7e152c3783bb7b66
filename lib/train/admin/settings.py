"""What one training run needs to know besides the config: names, folders, distributed layout."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from lib.utils.checkpoint import checkpoint_dir
from lib.utils.env import EnvSettings


@dataclass
class RunSettings:
    script: str
    config: str
    save_dir: str
    env: EnvSettings
    use_lmdb: bool = False
    use_wandb: bool = False
    seed: int = 42
    resume: str = "latest"
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: str = "cpu"
    extra: dict = field(default_factory=dict)

    @property
    def project_path(self) -> str:
        return f"train/{self.script}/{self.config}"

    @property
    def checkpoint_dir(self) -> str:
        return checkpoint_dir(self.save_dir, self.script, self.config)

    @property
    def log_file(self) -> str:
        return os.path.join(self.save_dir, "logs", f"{self.script}-{self.config}.log")

    @property
    def tensorboard_dir(self) -> str:
        return os.path.join(self.env.tensorboard_dir, self.project_path)
