"""benchmark_speed: the load policy that decides the clock and refuses ratios, the timing of the tiny models end to
end, the output comparison against another implementation, and the one-line errors."""
from __future__ import annotations

import json
import os
import runpy

import pytest
import torch

from lib.test.tracker.speed import LoadSample, Timing, ratio_allowed

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "tracking", "benchmark_speed.py")


@pytest.fixture(scope="module")
def bench():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(os.path.join(REPO, "tracking"))
        yield runpy.run_path(SCRIPT, run_name="benchmark_speed")


def test_default_models_are_the_families_declarations(bench):
    from lib import families
    from tests.fixtures.twotemplate_family import FAMILY

    assert bench["default_models"]()["STARK-ST101"] == ("stark_st", "baseline_R101")
    families.register(FAMILY)  # a new family's models join the default list without touching the benchmark
    try:
        assert bench["parse_models"](None)["TwoTemplate-tiny"] == ("twotemplate", "tiny")
    finally:
        families.unregister(FAMILY.name)


def test_busy_counts_other_work_only():
    assert not LoadSample(load1=1.0, cores=2, own_threads=1).busy  # our own thread is not "other work"
    assert LoadSample(load1=3.5, cores=2, own_threads=1).busy  # 1.25 per core from others
    assert not LoadSample(load1=1.9, cores=2, own_threads=1).busy  # 0.45 per core
    assert LoadSample(load1=2.2, cores=2, own_threads=1).busy  # 0.6 per core


def test_ratio_refused_when_any_sample_busy():
    quiet, busy = LoadSample(0.2, 2, 1), LoadSample(4.0, 2, 1)
    assert ratio_allowed([quiet, quiet])
    assert not ratio_allowed([quiet, busy, quiet])
    assert not ratio_allowed([])


def test_clock_switches_to_cpu_time_at_one_thread_when_busy(bench, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert bench["choose_clock"]("auto", 4, "cpu")[:2] == ("cpu", 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert bench["choose_clock"]("auto", 4, "cpu")[:2] == ("wall", 4)
    assert bench["choose_clock"]("cpu", 4, "cpu")[:2] == ("cpu", 1)


def test_row_has_a_ratio_only_on_a_quiet_machine(bench):
    ours, official = Timing([10.0, 10.0], [20.0, 20.0], "cpu"), Timing([15.0], [30.0], "cpu")
    result = bench["ModelResult"]("m", ours, ours, official, 0.0, [LoadSample(0.1, 2, 1)])
    assert result.row()["ratio"] == pytest.approx(1.5)
    result.loads.append(LoadSample(5.0, 2, 1))
    row = result.row()
    assert row["ratio"] is None and row["official_ms"] == 30.0
    assert "busy" in bench["format_table"]([row], "cpu", 1, "cpu")


def test_row_gives_each_rounds_ratio_and_the_table_their_range(bench):
    """Two rounds of two calls a side: the ratio of the medians overall, and per round for the spread."""
    ours, official = Timing([10.0, 12.0, 20.0, 20.0]), Timing([15.0, 15.0, 25.0, 25.0])
    result = bench["ModelResult"]("m", ours, ours, official, 0.0, [LoadSample(0.1, 2, 1)], round_size=2)
    row = result.row()
    assert row["ratio"] == pytest.approx(20.0 / 16.0)
    assert row["round_ratios"] == pytest.approx([15.0 / 11.0, 25.0 / 20.0])
    assert "1.25x (1.25-1.36)" in bench["format_table"]([row], "wall", 2, "cpu")


def test_output_difference_over_common_tensors(bench):
    ours = {"pred_boxes": torch.zeros(1, 1, 4), "extra": torch.ones(2)}
    official = {"pred_boxes": torch.tensor([[[0.0, 0.5, 0.0, -0.25]]]), "other": torch.ones(3)}
    assert bench["max_output_difference"](ours, official) == pytest.approx(0.5)
    with pytest.raises(RuntimeError):
        bench["max_output_difference"]({"a": torch.zeros(1)}, {"b": torch.zeros(1)})


def test_tiny_models_end_to_end(bench, tmp_path):
    out = tmp_path / "speed.json"
    models = ["stark_st:tiny", "ostrack:tiny", "sdstrack:tiny_rgbd"]  # the last on an RGB-D frame (6 channels)
    code = bench["main"](["--models", *models, "--runs", "2", "--warmup", "1", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert [r["model"] for r in report["rows"]] == models
    for row in report["rows"]:
        assert row["network_ms"] > 0 and row["tracker_ms"] > 0
        assert row["network_fps"] == pytest.approx(1000 / row["network_ms"])
        assert len(row["load1"]) >= 2
    assert report["clock"] in ("wall", "cpu") and report["cores"] == os.cpu_count()


@pytest.mark.parametrize("argv, names", [
    (["--models", "nonsense"], "--models"),
    (["--models", "stark_s:tiny", "--reference", "/nonexistent/official"], "--reference"),
    (["--runs", "0"], "--runs"),
])
def test_user_mistakes_end_in_one_error_line(bench, capsys, argv, names):
    from lib.utils.cli import run_main

    assert run_main(bench["main"], argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and names in err[0]


@pytest.mark.slow
def test_compile_flag_reports_the_compile_time(bench, tmp_path):
    out = tmp_path / "speed.json"
    assert bench["main"](["--models", "ostrack:tiny", "--runs", "1", "--warmup", "0", "--compile",
                          "--json", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["compile_s"] > 0 and row["network_ms"] > 0
