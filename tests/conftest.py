"""Shared fixtures: CPU only, deterministic seeds, the test-only family, isolated path settings."""
import os
import random

import numpy as np
import pytest

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
