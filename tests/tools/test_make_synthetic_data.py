"""make_synthetic_data.py: the defaults --help states are what a run writes, and the summary counts every split."""
import importlib.util
import os
import re

import pytest

from lib.synthetic import DEFAULT_SIZES

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cli(monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(REPO, "tracking"))
    spec = importlib.util.spec_from_file_location("synth_cli", os.path.join(REPO, "tracking", "make_synthetic_data.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_summary_counts_every_split(tmp_path, monkeypatch, capsys):
    cli = _cli(monkeypatch)
    small = ["--num_frames", "3", "--width", "32", "--height", "32"]
    assert cli.main(["--data_dir", str(tmp_path), "--benchmarks", "got10k", "lasot", "--num_sequences", "4",
                     *small]) == 0
    out = capsys.readouterr().out
    assert "got10k: 8 sequences (train 4, val 2, test 2)" in out
    assert re.search(r"lasot: 8 sequences \((test 4, train 4|train 4, test 4)\)", out)
    assert len(os.listdir(tmp_path / "got10k" / "val")) == 2 + 1  # two sequences and list.txt


def test_help_defaults_are_what_a_run_writes(tmp_path, monkeypatch, capsys):
    cli = _cli(monkeypatch)
    with pytest.raises(SystemExit):
        cli.parse_args(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    count = int(re.search(r"lasot_extension_subset (\d+)", shown).group(1))
    assert count == DEFAULT_SIZES["lasot_extension_subset"][0]
    assert "image width (default 320)" in shown and "JPEG quality (default 90)" in shown
    assert cli.main(["--data_dir", str(tmp_path), "--benchmarks", "lasot_extension_subset", "--num_frames", "2",
                     "--width", "32", "--height", "32"]) == 0
    assert f"lasot_extension_subset: {count} sequences (test {count})" in capsys.readouterr().out
    args = cli.parse_args([])
    assert (args.width, args.height, args.quality, args.seed) == (320, 240, 90, 0)
