import os

import pytest

from lib.utils.device import cpu_threads_per_process


@pytest.mark.parametrize("cores, workers, processes, expected", [
    (8, 0, 4, 2),     # test workers: an equal share each
    (16, 2, 1, 14),   # a training process keeps the cores its data workers leave free
    (16, 4, 2, 4),    # two processes per node split the cores first
    (2, 2, 1, 1),     # never fewer than one thread
    (None, 0, 1, 1),  # unknown core count
])
def test_each_process_gets_its_share_of_the_cores_minus_its_data_workers(monkeypatch, cores, workers, processes,
                                                                         expected):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert cpu_threads_per_process(processes, busy_helpers=workers) == expected
