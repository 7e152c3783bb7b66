"""Item 10 of issue 24: signals reach the child, a child dies with its launcher, one trainer per run folder."""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from lib.train.run_lock import LOCK_NAME, RunLock, RunLockedError
from tests.reliability.test_files_reliability import dead_pid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A child that records its pid and the signal it gets, then exits with 7 on SIGTERM.
CHILD = ("import os, signal, sys, time\n"
         "def on(sig, frame):\n"
         "    open(sys.argv[1] + '.sig', 'w').write(str(sig)); sys.exit(7)\n"
         "signal.signal(signal.SIGTERM, on)\n"
         "signal.signal(signal.SIGINT, on)\n"
         "open(sys.argv[1], 'w').write(str(os.getpid()))\n"
         "time.sleep(60)\n")
LAUNCHER = "import sys; from lib.utils.process import run_child; sys.exit(run_child(sys.argv[1:]))"


def wait_for(condition, seconds=20.0):
    end = time.time() + seconds
    while time.time() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has exited
        return f.read().split(") ")[1][0] != "Z"


def start_launcher(tmp_path):
    marker = str(tmp_path / "child.pid")
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, sys.executable, "-c", CHILD, marker], cwd=REPO)
    assert wait_for(lambda: os.path.exists(marker) and open(marker).read())
    return launcher, int(open(marker).read()), marker


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_launcher_forwards_sigterm_and_sigint_and_returns_the_childs_code(tmp_path, sig):
    launcher, child, marker = start_launcher(tmp_path)
    launcher.send_signal(sig)
    assert launcher.wait(20) == 7
    assert open(marker + ".sig").read() == str(int(sig))
    assert wait_for(lambda: not alive(child))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_child_dies_with_its_killed_launcher(tmp_path):
    launcher, child, marker = start_launcher(tmp_path)
    launcher.kill()
    launcher.wait()
    assert wait_for(lambda: not alive(child), 10), "the child outlived its SIGKILLed launcher"
    assert open(marker + ".sig").read() == str(int(signal.SIGTERM))


def test_a_second_trainer_on_the_same_folder_is_refused(tmp_path):
    with RunLock(str(tmp_path)):
        with pytest.raises(RunLockedError, match=f"being trained by process {os.getpid()} .*stop that trainer"):
            RunLock(str(tmp_path)).acquire()
    assert not (tmp_path / LOCK_NAME).exists()  # released


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_message(tmp_path):
    pid = dead_pid()
    (tmp_path / LOCK_NAME).write_text(f"{socket.gethostname()} {pid}\n")
    messages = []
    with RunLock(str(tmp_path), messages.append):
        assert (tmp_path / LOCK_NAME).read_text().split() == [socket.gethostname(), str(os.getpid())]
    assert messages and f"pid {pid}" in messages[0] and "taking over" in messages[0]


def test_a_lock_from_another_host_is_not_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text("some-other-host 12345\n")
    with pytest.raises(RunLockedError, match="process 12345 on some-other-host .*delete the lock"):
        RunLock(str(tmp_path)).acquire()
    assert (tmp_path / LOCK_NAME).read_text() == "some-other-host 12345\n"
