"""Family registry.

A family is a sub-package `lib/families/<name>/` whose `__init__.py` exports `FAMILY`, a `Family` declaration.
Packages are discovered here, so adding a family touches only its own folder (and `experiments/<script>/`).
Family modules must import nothing heavy at import time: their callables import models lazily.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Mapping

from lib.utils.cli import UserError

if TYPE_CHECKING:
    import torch.nn as nn

    from lib.config.node import CfgNode


@dataclass(frozen=True)
class Family:
    """What a tracker family declares; every callable receives explicit arguments, never globals.

    name: package name.
    scripts: training `--script` names -> official checkpoint file prefix (e.g. stark_st2 -> "STARKST").
    trackers: test-time tracker names -> the training script whose experiment files and checkpoints they use
        (e.g. stark_st -> stark_st2).
    add_config: extends the shared schema with the family's keys and per-script defaults: (cfg, script) -> None.
    build_model: (cfg, training) -> nn.Module with the official top-level module names.
    build_actor: (net, cfg, script) -> an actor computing the training loss.
    build_tracker: (params) -> a test-time tracker (see lib/test/tracker).
    data_options: (cfg, script) -> extra keyword arguments for the generic data pipeline, as
        {"sampler": {...}, "processing": {...}}.
    adapt_state_dict: optional rename of official checkpoint keys applied before a strict load.
    dummy_inputs: (cfg, device) -> inputs of one tracking step for profiling: a tuple of positional inputs, a dict
        of keyword inputs, or a callable (model -> list of lib.utils.profiling.ProfileStep) for multi-part steps.
    param_groups: (net, cfg) -> optimiser parameter groups, when the official recipe differs from the generic one
        (backbone parameters at TRAIN.LR * TRAIN.BACKBONE_MULTIPLIER).
    """

    name: str
    scripts: Mapping[str, str]
    trackers: Mapping[str, str]
    add_config: Callable[["CfgNode", str], None]
    build_model: Callable[["CfgNode", bool], "nn.Module"]
    build_actor: Callable[..., Any] | None = None
    build_tracker: Callable[..., Any] | None = None
    data_options: Callable[["CfgNode", str], dict] | None = None
    adapt_state_dict: Callable[[dict], dict] | None = None
    dummy_inputs: Callable[..., Any] | None = None
    param_groups: Callable[["nn.Module", "CfgNode"], list] | None = None
    description: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)

    def checkpoint_prefix(self, script: str) -> str:
        return self.scripts[script]


class UnknownNameError(UserError, KeyError):
    """A script or tracker name that no family declares."""


_registered: dict[str, Family] = {}


def register(family: Family) -> None:
    """Add a family defined outside lib/families (a test fixture or an out-of-tree plugin)."""
    _check_unique({**discover(), family.name: family})
    _registered[family.name] = family


def unregister(name: str) -> None:
    _registered.pop(name, None)


def discover() -> dict[str, Family]:
    """Every family: the sub-packages of lib/families (imported once) plus registered ones."""
    return {**_discover_packages(), **_registered}


@lru_cache(maxsize=None)
def _discover_packages() -> dict[str, Family]:
    families: dict[str, Family] = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        family = getattr(module, "FAMILY", None)
        if not isinstance(family, Family):
            raise TypeError(f"lib/families/{info.name}/__init__.py must define FAMILY = Family(...)")
        families[family.name] = family
    _check_unique(families)
    return families


def _check_unique(families: dict[str, Family]) -> None:
    owner: dict[str, str] = {}
    for family in families.values():
        for name in list(family.scripts) + list(family.trackers):
            if owner.get(name, family.name) != family.name:
                raise ValueError(f"script/tracker name '{name}' is declared by both {owner[name]} and {family.name}")
            owner[name] = family.name


def list_scripts() -> list[str]:
    return sorted(s for f in discover().values() for s in f.scripts)


def list_trackers() -> list[str]:
    return sorted(t for f in discover().values() for t in f.trackers)


def get_family(script: str) -> Family:
    """The family that declares training script `script`."""
    for family in discover().values():
        if script in family.scripts:
            return family
    raise UnknownNameError(f"unknown script '{script}'; valid scripts: {', '.join(list_scripts())}")


def get_tracker_family(tracker: str) -> tuple[Family, str]:
    """The family of test-time tracker `tracker` and the training script it reads configs/checkpoints from."""
    for family in discover().values():
        if tracker in family.trackers:
            return family, family.trackers[tracker]
    raise UnknownNameError(f"unknown tracker '{tracker}'; valid trackers: {', '.join(list_trackers())}")
