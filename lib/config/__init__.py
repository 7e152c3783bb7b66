"""Config building: a schema + experiment YAML (+ `_BASE_` chain) + overrides, frozen.

Which schema a training script uses is the family's business: `lib.families.load_config(script, config)` extends
the shared schema with the family's keys and calls `build_config`. This package never imports lib.families.
"""
from __future__ import annotations

import os
from typing import Iterable

from lib.config.defaults import get_default_config
from lib.config.node import CfgNode, ConfigError

__all__ = ["CfgNode", "ConfigError", "build_config", "config_label", "experiment_file", "get_default_config",
           "repo_root"]


def repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def experiment_file(script: str, config: str, root: str | None = None) -> str:
    """`<root>/<script>/<config>.yaml` (root: the repository's `experiments/`), or `config` itself when it is a
    path to a YAML file."""
    if config.endswith((".yaml", ".yml")) and os.path.isfile(config):
        return os.path.abspath(config)
    path = os.path.join(root or os.path.join(repo_root(), "experiments"), script, f"{config}.yaml")
    if not os.path.isfile(path):
        folder = os.path.dirname(path)
        known = sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".yaml")) if os.path.isdir(folder) else []
        raise ConfigError(f"no experiment file {path}; configs for '{script}': {', '.join(known) or '(none)'}")
    return path


def config_label(config: str) -> str:
    """The name a run's folders use (checkpoints, results): the config name, or a YAML file's stem when a path is
    given."""
    if config.endswith((".yaml", ".yml")):
        return os.path.splitext(os.path.basename(config))[0]
    return config


def build_config(schema: CfgNode, path: str, opts: Iterable[str] = ()) -> CfgNode:
    """Merge the YAML file `path` and the `KEY VALUE ...` overrides into `schema` strictly, and freeze it."""
    schema.merge_from_file(path)
    schema.merge_from_list(opts)
    return schema.freeze()
