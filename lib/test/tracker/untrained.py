"""Declarations shared by trackers without a trainable network (baselines): they have no config and no model.

Kept free of heavy imports because family packages reference these at import time.
"""
from __future__ import annotations

from typing import NoReturn


class NoModelError(TypeError):
    """Asked for the config or network of a tracker that has none."""


def no_config(cfg: object, script: str) -> NoReturn:
    raise NoModelError(f"'{script}' is not a training script: this tracker has no trainable model or config")


def no_model(cfg: object, training: bool) -> NoReturn:
    raise NoModelError("this tracker has no trainable model (it is a baseline without a network)")
