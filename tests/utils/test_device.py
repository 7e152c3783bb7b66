import os

import pytest

from lib.utils.device import training_cpu_threads


@pytest.mark.parametrize("cores, workers, processes, expected", [
    (16, 2, 1, 14),   # one process keeps the cores its data workers leave free
    (16, 4, 2, 4),    # two processes per node split the cores first
    (2, 2, 1, 1),     # never fewer than one thread
    (None, 0, 1, 1),  # unknown core count
])
def test_training_threads_leave_cores_to_the_data_workers(monkeypatch, cores, workers, processes, expected):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert training_cpu_threads(workers, processes) == expected
