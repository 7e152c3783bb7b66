"""Every user mistake at the entry scripts ends in one `error:` line that names the flag or key to fix, exit code 2,
no traceback (lib.utils.cli.run_main); an unsupported OpenCV algorithm is reported once, before any sequence."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from lib.utils.cli import run_main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(script, monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(REPO, "tracking"))
    spec = importlib.util.spec_from_file_location(f"{script}_cli", os.path.join(REPO, "tracking", f"{script}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _one_error_line(capsys, *needles):
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in captured.out + captured.err
    return captured


@pytest.fixture
def data_dir(tmp_path):
    """A LaSOT copy with one sequence (annotations only: nothing runs far enough to need frames)."""
    folder = tmp_path / "data" / "lasot" / "cat" / "cat-1"
    folder.mkdir(parents=True)
    np.savetxt(folder / "groundtruth.txt", np.array([[5, 5, 20, 20]] * 3), fmt="%d", delimiter=",")
    (folder / "full_occlusion.txt").write_text("0,0,0\n")
    (folder / "out_of_view.txt").write_text("0,0,0\n")
    return tmp_path / "data"


def _test_py(tmp_path, data_dir, *args):
    return [*args, "--dataset", "lasot", "--data_dir", str(data_dir), "--results_dir", str(tmp_path / "res"),
            "--save_dir", str(tmp_path / "save"), "--device", "cpu", "--no_progress"]


@pytest.mark.parametrize("args, needles", [
    (["no_such_tracker", "cfg"], ["no_such_tracker"]),
    (["ostrack", "tiny", "--opts", "MODEL.NO_SUCH_KEY", "1"], ["NO_SUCH_KEY"]),
    (["ostrack", "tiny"], ["checkpoint", "--checkpoint"]),
    (["opencv", "no_such_algorithm"], ["opencv no_such_algorithm", "available here"]),
    (["ostrack", "tiny", "--cuda_graph"], ["--cuda_graph needs --device cuda"]),
    (["opencv", "mil", "--dtype", "fp16"], ["--dtype", "no network"]),
])
def test_test_py_mistakes(args, needles, tmp_path, data_dir, monkeypatch, capsys):
    cli = _load("test", monkeypatch)
    assert run_main(cli.main, _test_py(tmp_path, data_dir, *args)) == 2
    captured = _one_error_line(capsys, *needles)
    assert "cat-1" not in captured.out  # reported before any sequence runs
    assert not (tmp_path / "res").exists()


def test_test_py_unknown_and_missing_dataset(tmp_path, data_dir, monkeypatch, capsys):
    cli = _load("test", monkeypatch)
    argv = _test_py(tmp_path, data_dir, "hold", "default")
    argv[argv.index("lasot")] = "lasott"
    assert run_main(cli.main, argv) == 2
    _one_error_line(capsys, "--dataset", "lasott")
    argv[argv.index("lasott")] = "got10k_val"  # no got10k/ under the data root
    assert run_main(cli.main, argv) == 2
    _one_error_line(capsys, "--dataset got10k_val", "--data_dir")


def test_test_py_partial_copy_names_only_present(tmp_path, data_dir, monkeypatch, capsys):
    (data_dir / "lasot" / "testing_set.txt").write_text("cat-1\ncat-2\n")
    cli = _load("test", monkeypatch)
    assert run_main(cli.main, _test_py(tmp_path, data_dir, "hold", "default")) == 2
    _one_error_line(capsys, "1 of 2 sequences are missing: cat-2", "--only_present")


def test_debug_shows_the_traceback(tmp_path, data_dir, monkeypatch):
    cli = _load("test", monkeypatch)
    with pytest.raises(Exception, match="no_such_algorithm"):
        run_main(cli.main, _test_py(tmp_path, data_dir, "opencv", "no_such_algorithm", "--debug", "1"))


def test_analysis_results_mistakes(tmp_path, data_dir, monkeypatch, capsys):
    cli = _load("analysis_results", monkeypatch)
    base = ["--data_dir", str(data_dir), "--results_dir", str(tmp_path / "r"), "--plot_dir", str(tmp_path / "p")]
    assert run_main(cli.main, ["--dataset", "lasott", "--tracker", "a:b", *base]) == 2
    _one_error_line(capsys, "--dataset", "lasott")
    assert run_main(cli.main, ["--dataset", "lasot", "--tracker", "ab", *base]) == 2
    _one_error_line(capsys, "--tracker 'ab'")
    assert run_main(cli.main, ["--dataset", "lasot", "--tracker", "no_such_script:cfg", *base]) == 2
    _one_error_line(capsys, "no_such_script", "cat-1")
    assert run_main(cli.main, ["--dataset", "lasot", "--tracker", "a:b", "--protocol", "got10k",
                               "--exclude_invalid", *base]) == 2
    _one_error_line(capsys, "--exclude_invalid")


def test_profile_model_mistakes(monkeypatch, capsys):
    cli = _load("profile_model", monkeypatch)
    assert run_main(cli.main, ["--script", "no_such_script", "--config", "x", "--device", "cpu"]) == 2
    _one_error_line(capsys, "no_such_script")
    assert run_main(cli.main, ["--script", "ostrack", "--config", "no_such_config", "--device", "cpu"]) == 2
    _one_error_line(capsys, "no_such_config")
    assert run_main(cli.main, ["--script", "ostrack", "--config", "tiny", "--runs", "0"]) == 2
    _one_error_line(capsys, "--runs")


def test_data_tools_mistakes(tmp_path, monkeypatch, capsys):
    pack = _load("pack_lmdb", monkeypatch)
    assert run_main(pack.main, ["--src", str(tmp_path / "nothing"), "--dst", str(tmp_path / "out")]) == 2
    _one_error_line(capsys, "--src")
    local = _load("create_default_local_file", monkeypatch)
    argv = ["--workspace_dir", str(tmp_path), "--data_dir", str(tmp_path), "--save_dir", str(tmp_path),
            "--root", str(tmp_path)]
    (tmp_path / "lib" / "train" / "admin").mkdir(parents=True)
    (tmp_path / "lib" / "test" / "evaluation").mkdir(parents=True)
    assert run_main(local.main, argv) == 0
    capsys.readouterr()
    assert run_main(local.main, argv) == 2
    _one_error_line(capsys, "--force")
    synth = _load("make_synthetic_data", monkeypatch)
    assert run_main(synth.main, ["--data_dir", str(tmp_path / "d"), "--benchmarks", "lasot", "--width", "4"]) == 2
    _one_error_line(capsys, "--width")


@pytest.mark.parametrize("script, args, needle", [
    ("test.py", ["no_such_tracker", "cfg"], "no_such_tracker"),
    ("analysis_results.py", ["--dataset", "lasott", "--tracker", "a:b"], "--dataset"),
    ("profile_model.py", ["--script", "ostrack", "--config", "tiny", "--runs", "0"], "--runs"),
    ("pack_lmdb.py", ["--src", "/nonexistent/trackzoo", "--dst", "/nonexistent/out"], "--src"),
    ("make_synthetic_data.py", ["--data_dir", "{tmp}", "--benchmarks", "lasot", "--width", "4"], "--width"),
    ("create_default_local_file.py", ["--workspace_dir", "{tmp}", "--data_dir", "{tmp}", "--save_dir", "{tmp}",
                                      "--root", "{tmp}"], "--force"),
])
def test_scripts_by_path_end_in_one_error_line(script, args, needle, tmp_path):
    (tmp_path / "lib" / "train" / "admin").mkdir(parents=True)
    (tmp_path / "lib" / "train" / "admin" / "local.py").write_text("# already there\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = subprocess.run([sys.executable, os.path.join(REPO, "tracking", script), *argv], capture_output=True,
                          text=True, cwd=str(tmp_path))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_test_py_checks_the_tracker_before_starting_workers(tmp_path, data_dir, monkeypatch, capsys):
    cli = _load("test", monkeypatch)
    argv = _test_py(tmp_path, data_dir, "opencv", "no_such_algorithm", "--threads", "2")
    assert run_main(cli.main, argv) == 2
    _one_error_line(capsys, "opencv no_such_algorithm")


@pytest.mark.parametrize("flag, value", [("--threads", "-1"), ("--num_gpus", "0")])
def test_test_py_rejects_impossible_worker_counts(flag, value, monkeypatch, capsys):
    cli = _load("test", monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(["ostrack", "tiny", "--dataset", "lasot", flag, value])
    assert exit_info.value.code == 2
    assert "error: --threads must be >= 0 and --num_gpus >= 1" in capsys.readouterr().err
