"""Config loading: shared schema + family additions + experiment YAML (+ `_BASE_` chain) + overrides, frozen."""
from __future__ import annotations

import os
from typing import Iterable

from lib.config.defaults import get_default_config
from lib.config.node import CfgNode, ConfigError

__all__ = ["CfgNode", "ConfigError", "experiment_file", "get_config_schema", "load_config", "repo_root"]


def repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def experiment_file(script: str, config: str) -> str:
    """`experiments/<script>/<config>.yaml`, or `config` itself when it is a path to a YAML file."""
    if config.endswith((".yaml", ".yml")) and os.path.isfile(config):
        return os.path.abspath(config)
    path = os.path.join(repo_root(), "experiments", script, f"{config}.yaml")
    if not os.path.isfile(path):
        folder = os.path.dirname(path)
        known = sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".yaml")) if os.path.isdir(folder) else []
        raise ConfigError(f"no experiment file {path}; configs for '{script}': {', '.join(known) or '(none)'}")
    return path


def get_config_schema(script: str) -> CfgNode:
    """The unfrozen defaults for `script`: the shared schema extended by its family."""
    from lib.families import get_family

    cfg = get_default_config()
    get_family(script).add_config(cfg, script)
    return cfg


def load_config(script: str, config: str, opts: Iterable[str] = ()) -> CfgNode:
    """Load experiment `config` of training script `script` strictly and freeze it."""
    cfg = get_config_schema(script)
    cfg.merge_from_file(experiment_file(script, config))
    cfg.merge_from_list(opts)
    return cfg.freeze()
