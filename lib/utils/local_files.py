"""Writing the official-style local.py files (never overwriting them unless asked)."""
from __future__ import annotations

import os

from lib.utils.env import (REPO_ROOT, TEST_DATA_FIELDS, TRAIN_DATA_FIELDS, WORKSPACE_FIELDS, SAVE_FIELDS,
                           default_paths)
from lib.utils.io import atomic_write_text



def train_fields() -> list[str]:
    """Fields of lib/train/admin/local.py, including those registered by families (lib.utils.env)."""
    return list(WORKSPACE_FIELDS) + ["pretrained_networks"] + list(TRAIN_DATA_FIELDS)


def test_fields() -> list[str]:
    return ["prj_dir"] + list(SAVE_FIELDS) + list(TEST_DATA_FIELDS)


def _assignments(values: dict[str, str], fields: list[str], indent: str, target: str) -> str:
    return "".join(f"{indent}{target}{field} = {values[field]!r}\n" for field in fields)


def train_local_text(values: dict[str, str]) -> str:
    return ("class EnvironmentSettings:\n"
            "    def __init__(self):\n"
            + _assignments(values, train_fields(), " " * 8, "self."))


def test_local_text(values: dict[str, str]) -> str:
    return ("from lib.test.evaluation.environment import EnvSettings\n\n\n"
            "def local_env_settings():\n"
            "    settings = EnvSettings()\n"
            + _assignments(values, test_fields(), " " * 4, "settings.")
            + "    return settings\n")


def create_default_local_files(workspace_dir: str, data_dir: str, save_dir: str, root: str = REPO_ROOT,
                               force: bool = False) -> list[str]:
    """Write lib/train/admin/local.py and lib/test/evaluation/local.py under `root`; return their paths.

    Refuses (FileExistsError) when either file exists and `force` is False, so user edits are never lost.
    """
    values = default_paths(data_dir=data_dir, save_dir=save_dir, workspace_dir=workspace_dir)
    values["prj_dir"] = os.path.abspath(root)
    values["pretrained_networks"] = os.path.join(os.path.abspath(root), "pretrained_networks")
    targets = {
        os.path.join(root, "lib", "train", "admin", "local.py"): train_local_text(values),
        os.path.join(root, "lib", "test", "evaluation", "local.py"): test_local_text(values),
    }
    existing = [path for path in targets if os.path.exists(path)]
    if existing and not force:
        raise FileExistsError(f"{', '.join(existing)} already exist; pass --force to overwrite")
    for path, text in targets.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write_text(path, text)
    return list(targets)
