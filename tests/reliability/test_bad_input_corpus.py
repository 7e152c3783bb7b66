"""The bad-input corpus (tests/reliability/corpus/cases.yaml): every case ends with a non-zero exit code and a
last stderr line that names the file or key and says what to do; none runs code from a file or leaves a traceback."""
import os
import runpy
import shutil
import signal
import subprocess
import sys
import logging

import pytest
import yaml

from lib.utils.cli import run_main

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
REPO = os.path.dirname(os.path.dirname(HERE))
with open(os.path.join(CORPUS, "cases.yaml"), encoding="utf-8") as f:
    CASES = yaml.safe_load(f)


def test_the_corpus_is_large_and_its_ids_unique():
    ids = [case["id"] for case in CASES]
    assert len(ids) >= 60 and len(set(ids)) == len(ids)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus_data")
    for bench, seed in (("lasot", "1"), ("got10k", "0")):
        subprocess.run([sys.executable, os.path.join(REPO, "tracking", "make_synthetic_data.py"), "--data_dir",
                        str(root), "--benchmarks", bench, "--seed", seed, "--num_sequences", "2", "--num_frames",
                        "24", "--width", "64", "--height", "48"], check=True, capture_output=True, cwd=REPO)
    return str(root)


@pytest.fixture(scope="module")
def entry_points():
    sys.path.insert(0, os.path.join(REPO, "tracking"))
    try:
        from lib.train import run_training

        yield {"train": runpy.run_path(os.path.join(REPO, "tracking", "train.py"))["main"],
               "test": runpy.run_path(os.path.join(REPO, "tracking", "test.py"))["main"],
               "convert": runpy.run_path(os.path.join(REPO, "tracking", "convert_checkpoint.py"))["main"],
               "train_worker": run_training.main}
    finally:
        sys.path.remove(os.path.join(REPO, "tracking"))


def _fill(value: str, tmp: str) -> str:
    return value.replace("{corpus}", CORPUS).replace("{tmp}", tmp)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input_ends_in_one_line_naming_what_to_fix(case, entry_points, data_dir, tmp_path, isolated_env, capfd):
    for key, value in {"DATA_DIR": data_dir, "SAVE_DIR": tmp_path, "WORKSPACE_DIR": tmp_path}.items():
        isolated_env.setenv(f"TRACKZOO_{key}", str(value))
    if "setup" in case:
        shutil.copytree(os.path.join(CORPUS, case["setup"]["copy"]), _fill(case["setup"]["to"], str(tmp_path)))
    before = sorted(os.listdir(CORPUS + "/checkpoints"))
    sigterm, handlers = signal.getsignal(signal.SIGTERM), list(logging.getLogger().handlers)
    try:
        code = run_main(entry_points[case["tool"]], [_fill(a, str(tmp_path)) for a in case["args"]])
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        logging.getLogger().handlers[:] = handlers
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert code != 0, out[-2000:]
    assert lines and lines[-1].startswith("error: "), err[-3000:]
    for expected in case["expect"]:
        assert _fill(expected, str(tmp_path)) in lines[-1], lines[-1]
    assert "Traceback" not in err and "PAYLOAD-RAN" not in out + err
    assert sorted(os.listdir(CORPUS + "/checkpoints")) == before  # nothing written next to the inputs
