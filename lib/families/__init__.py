"""Family registry.

A family is a sub-package `lib/families/<name>/` whose `__init__.py` exports `FAMILY`, a `Family` declaration.
Packages are discovered here, so adding a family touches only its own folder (and `experiments/<script>/`); a
family defined elsewhere (a test fixture, an out-of-tree plugin) calls `register`.
Family modules must import nothing heavy at import time: their callables import models lazily.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol, Sequence, TypedDict, Union

from lib.config import build_config, experiment_file, get_default_config, repo_root
from lib.config.node import CfgNode
from lib.utils.cli import UserError

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

    from lib.test.parameter import TrackerParams
    from lib.test.tracker.base import BaseTracker
    from lib.train.actors.base import BaseActor
    from lib.train.hooks import TrainerHook
    from lib.utils.profiling import ProfileStep


# ------------------------------------------------------------------------------------------ step signatures
class AddConfig(Protocol):
    def __call__(self, cfg: CfgNode, script: str) -> None:
        """Add the family's keys and the per-script defaults to the shared schema `cfg` (unfrozen)."""


class BuildModel(Protocol):
    def __call__(self, cfg: CfgNode, training: bool) -> "nn.Module":
        """The network with the official top-level module names."""


class BuildActor(Protocol):
    def __call__(self, net: "nn.Module", cfg: CfgNode, script: str) -> "BaseActor":
        """The actor computing the training loss of `net` (possibly DDP-wrapped)."""


class BuildTracker(Protocol):
    def __call__(self, params: "TrackerParams") -> "BaseTracker":
        """A test-time tracker (lib/test/tracker/base.py)."""


class DataOptions(TypedDict, total=False):
    """Keyword arguments merged over the generic data pipeline's defaults (lib/train/data/loader.py)."""

    sampler: dict[str, Any]
    processing: dict[str, Any]
    transforms: dict[str, Any]


class BuildDataOptions(Protocol):
    def __call__(self, cfg: CfgNode, script: str) -> DataOptions: ...


class AdaptStateDict(Protocol):
    def __call__(self, state: dict[str, "torch.Tensor"]) -> dict[str, "torch.Tensor"]:
        """Rename a checkpoint's keys (official or previous-stage) to this codebase's before a load."""


# One tracking step for profiling: positional inputs, keyword inputs, or model -> steps (lib/utils/profiling.py).
DummyInputsResult = Union[tuple, list, dict, Callable[["nn.Module"], "list[ProfileStep]"]]


class DummyInputs(Protocol):
    def __call__(self, cfg: CfgNode, device: "torch.device | str") -> DummyInputsResult: ...


class ParamGroups(Protocol):
    def __call__(self, net: "nn.Module", cfg: CfgNode) -> list[dict[str, Any]]:
        """Optimiser parameter groups, when the official recipe differs from lib.train.optim's default."""


class BuildTrainerHooks(Protocol):
    def __call__(self, net: "nn.Module", cfg: CfgNode, script: str) -> "Sequence[TrainerHook]":
        """Hooks the trainer calls before/after each step and epoch (lib/train/hooks.py)."""


@dataclass(frozen=True)
class Lazy:
    """A step callable named as "module:attribute", imported on first call, so that declaring a family imports nothing
    heavy; a plain object (not a closure), so a declaration still pickles into worker processes."""

    target: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)(*args, **kwargs)


@dataclass(frozen=True)
class TinyRun:
    """A small configuration of a training script for smoke tests: an experiment name (or YAML path) and
    `KEY VALUE` overrides. The conformance suite trains and tracks one step with it."""

    config: str
    opts: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------ declaration
@dataclass(frozen=True)
class Family:
    """What a tracker family declares; every callable receives explicit arguments, never globals.

    name: package name.
    scripts: training `--script` names -> official checkpoint file prefix (e.g. stark_st2 -> "STARKST").
    trackers: test-time tracker names -> the training script whose experiment files and checkpoints they use
        (e.g. stark_st -> stark_st2), or "" for a tracker without a network (a baseline).
    A family with scripts declares at least add_config and build_model; to train, build_actor; the conformance
    suite (tests/conformance) also wants a TinyRun per script in `tiny`. A baseline declares only build_tracker.
    experiments: folder holding `<script>/<config>.yaml` (default: the repository's experiments/).
    manifests: (script, config) -> file name of the official state-dict manifest in shared/reference/ that the
        model built from that experiment file must match.
    reference_step: path of a script that runs the official code's tracking step on given weights and inputs
        (tracking/benchmark_speed.py --reference times it against ours).
    speed_models: display name -> (tracker, config) of the full-size models tracking/benchmark_speed.py times
        by default (e.g. "STARK-ST101" -> ("stark_st", "baseline_R101")).
    The other fields are optional steps; see their Protocols above.
    """

    name: str
    scripts: Mapping[str, str]
    trackers: Mapping[str, str]
    add_config: AddConfig | None = None
    build_model: BuildModel | None = None
    build_actor: BuildActor | None = None
    build_tracker: BuildTracker | None = None
    data_options: BuildDataOptions | None = None
    adapt_state_dict: AdaptStateDict | None = None
    dummy_inputs: DummyInputs | None = None
    param_groups: ParamGroups | None = None
    trainer_hooks: BuildTrainerHooks | None = None
    tiny: Mapping[str, TinyRun] = field(default_factory=dict)
    manifests: Mapping[tuple[str, str], str] = field(default_factory=dict)
    experiments: str | None = None
    reference_step: str | None = None
    speed_models: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if self.scripts:
            missing = [n for n in ("add_config", "build_model") if getattr(self, n) is None]
            if missing:
                raise TypeError(f"family '{self.name}' declares training scripts but no {', '.join(missing)}")
        unknown = sorted(({s for s, _ in self.manifests} | set(self.tiny)) - set(self.scripts))
        if unknown:
            raise TypeError(f"family '{self.name}': tiny/manifests name unknown script(s) {unknown}")
        if any(t not in ("", *self.scripts) for t in self.trackers.values()):
            raise TypeError(f"family '{self.name}': a tracker names a script the family does not declare")
        if any(tracker not in self.trackers for tracker, _ in self.speed_models.values()):
            raise TypeError(f"family '{self.name}': speed_models name a tracker the family does not declare")

    def checkpoint_prefix(self, script: str) -> str:
        return self.scripts[script]

    def experiments_root(self) -> str:
        """The folder holding `<script>/<config>.yaml` for this family's scripts."""
        return self.experiments or os.path.join(repo_root(), "experiments")


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


# ------------------------------------------------------------------------------------------ configs
def get_config_schema(script: str) -> CfgNode:
    """The unfrozen defaults for `script`: the shared schema extended by its family."""
    cfg = get_default_config()
    get_family(script).add_config(cfg, script)
    return cfg


def experiment_path(script: str, config: str) -> str:
    """The YAML file of experiment `config` (a name in the family's experiments folder, or a YAML path)."""
    return experiment_file(script, config, get_family(script).experiments_root())


def load_config(script: str, config: str, opts: Iterable[str] = ()) -> CfgNode:
    """Load experiment `config` of training script `script` strictly and freeze it."""
    return build_config(get_config_schema(script), experiment_path(script, config), opts)
