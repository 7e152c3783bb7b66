"""Shared fixtures: CPU only, deterministic seeds, the test-only family, isolated path settings."""
import os
import random
import sys

import numpy as np
import pytest


def _selects_gpu_tests(argv: list[str]) -> bool:
    """True for a run such as `pytest -m gpu` (the marker expression asks for gpu tests, not `not gpu`)."""
    for i, arg in enumerate(argv):
        expr = argv[i + 1] if arg == "-m" and i + 1 < len(argv) else arg[2:] if arg.startswith("-m") else ""
        if "gpu" in expr.replace("not gpu", ""):
            return True
    return False


if not _selects_gpu_tests(sys.argv):  # CPU only, unless the gpu-marked tests are asked for
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    try:
        import torch
    except ImportError:  # analysis tests run without torch
        return
    torch.manual_seed(0)


@pytest.fixture
def toy_family():
    from lib import families
    from tests.fixtures.toy_family import TOY_FAMILY

    families.register(TOY_FAMILY)
    yield TOY_FAMILY
    families.unregister(TOY_FAMILY.name)


@pytest.fixture
def isolated_env(monkeypatch):
    """No TRACKZOO_* variables from the caller's shell leak into a test."""
    for key in list(os.environ):
        if key.startswith("TRACKZOO_"):
            monkeypatch.delenv(key)
    return monkeypatch
