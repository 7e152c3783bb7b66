"""Items 11-14 of issue 24: stale temporaries, the umask, config history, a full disk."""
import errno
import logging
import os
import subprocess
import sys

import pytest
import torch

from lib.train.run_training import main as worker_main, save_resolved_config
from lib.utils.checkpoint import save_checkpoint
from lib.utils.cli import run_main
from lib.utils.io import FileWriteError, atomic_write_text


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_write_removes_stale_temporaries_of_its_target_and_says_so(tmp_path, caplog):
    stale = tmp_path / f".result.txt.{dead_pid()}-abc123.tmp"
    legacy = tmp_path / ".result.txt.k1ll3d_x.tmp"  # written before temporaries carried a process id
    live = tmp_path / f".result.txt.{os.getpid()}-zzz999.tmp"  # a concurrent writer of the same file
    other = tmp_path / f".other.txt.{dead_pid()}-abc123.tmp"  # another target: left to its own next write
    for path in (stale, legacy, live, other):
        path.write_text("partial")
    with caplog.at_level(logging.WARNING, logger="trackzoo.io"):
        atomic_write_text(str(tmp_path / "result.txt"), "done\n")
    assert not stale.exists() and not legacy.exists() and live.exists() and other.exists()
    assert f"removed {stale}" in caplog.text and "killed write" in caplog.text
    assert (tmp_path / "result.txt").read_text() == "done\n"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_atomic_writes_apply_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        atomic_write_text(str(tmp_path / "a.txt"), "x")
        save_checkpoint(str(tmp_path / "b.pth.tar"), {"net": {}})
    finally:
        os.umask(previous)
    assert os.stat(tmp_path / "a.txt").st_mode & 0o777 == mode
    assert os.stat(tmp_path / "b.pth.tar").st_mode & 0o777 == mode


def test_a_changed_config_keeps_the_previous_one(tmp_path):
    save_resolved_config(str(tmp_path), "TRAIN:\n  EPOCH: 5\n")
    save_resolved_config(str(tmp_path), "TRAIN:\n  EPOCH: 5\n")
    assert sorted(os.listdir(tmp_path)) == ["config.yaml"]
    save_resolved_config(str(tmp_path), "TRAIN:\n  EPOCH: 9\n")
    kept = [f for f in os.listdir(tmp_path) if f != "config.yaml"]
    assert len(kept) == 1 and kept[0].startswith("config.2") and kept[0].endswith(".yaml")
    assert (tmp_path / kept[0]).read_text() == "TRAIN:\n  EPOCH: 5\n"
    assert (tmp_path / "config.yaml").read_text() == "TRAIN:\n  EPOCH: 9\n"


def test_a_launch_rejected_at_config_load_leaves_the_saved_config_alone(tmp_path, capsys):
    folder = tmp_path / "checkpoints" / "train" / "stark_s" / "tiny"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("previous run\n")
    handlers = list(logging.getLogger().handlers)
    try:
        code = run_main(worker_main, ["--script", "stark_s", "--config", "tiny", "--device", "cpu", "--save_dir",
                                      str(tmp_path), "--opts", "TRAIN.EPOCH", "0"])
    finally:
        logging.getLogger().handlers[:] = handlers
    assert code == 2 and "'TRAIN.EPOCH' must be" in capsys.readouterr().err
    assert sorted(os.listdir(folder)) == ["config.yaml"] and (folder / "config.yaml").read_text() == "previous run\n"


class FullDiskFile:
    """A file on a disk that fills up after `room` bytes."""

    def __init__(self, file, room: int):
        self.file, self.room = file, room

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


def test_a_full_disk_while_saving_names_the_error_and_the_path_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: FullDiskFile(real_fdopen(fd, *a, **k), 5000))
    path = str(tmp_path / "STARKS_ep0001.pth.tar")

    def save(argv):
        save_checkpoint(path, {"net": {"w": torch.zeros(100_000)}})
        return 0

    assert run_main(save, []) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"error: cannot write {path}: No space left on device; free some space there or choose another folder"
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileWriteError):
        save(None)
