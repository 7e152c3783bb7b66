"""The VOT toolkit runs TrackZoo trackers offline: `vot evaluate` and `vot analysis` (through external.vot.toolkit)
on a generated 3-sequence RGB-D workspace, with the `hold` baseline and a tiny STARK-S trained for one epoch.

Skipped only when vot-toolkit is not installed (pip install -r requirements-vot.txt; CI installs it)."""
import glob
import math
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("vot", reason="vot-toolkit is not installed (bash install.sh --with-vot)")

from external.vot.report import read_summary  # noqa: E402
from tests.tools.test_end_to_end import GOT10K_ONLY, tool  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Any network access fails at once: the update check is gone and the sequences are local, so nothing should try.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
TRACKERS = ("hold_default", "stark_s_tiny")


def start(env, *args):
    return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(process):
    out, _ = process.communicate()
    assert process.returncode == 0, f"{process.args[2:4]} failed:\n{out[-5000:]}"
    return out


def module(env, *args):
    return finish(start(env, *args))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A workspace with both trackers evaluated and analysed; yields (folder, summary, toolkit log)."""
    root = tmp_path_factory.mktemp("vot")
    env = {**os.environ, **OFFLINE, "TRACKZOO_DATA_DIR": str(root / "data"), "TRACKZOO_SAVE_DIR": str(root),
           "TRACKZOO_WORKSPACE_DIR": str(root)}
    tool(env, "make_synthetic_data.py", "--data_dir", str(root / "data"), "--benchmarks", "got10k", "--seed", "0",
         "--num_sequences", "3", "--num_frames", "24", "--width", "160", "--height", "120")
    tool(env, "train.py", "--script", "stark_s", "--config", "tiny", "--mode", "single", "--device", "cpu",
         "--opts", *GOT10K_ONLY)
    checkpoint = root / "checkpoints" / "train" / "stark_s" / "tiny" / "STARKS_ep0001.pth.tar"
    ws = root / "ws"
    module(env, "external.vot.workspace", "create", str(ws), "--synthetic", "--num_sequences", "3",
           "--num_frames", "40", "--width", "160", "--height", "120", "--channels", "color,depth",
           "--anchor_spacing", "25")
    module(env, "external.vot.workspace", "add", str(ws), "--tracker", "hold", "--param", "default")
    module(env, "external.vot.workspace", "add", str(ws), "--tracker", "stark_s", "--param", "tiny",
           "--checkpoint", str(checkpoint), "--device", "cpu", "--threads", "1")
    # one toolkit per tracker, side by side: each writes only its own results/<tracker>/
    runs = [start(env, "external.vot.toolkit", "--debug", "evaluate", "--workspace", str(ws), t) for t in TRACKERS]
    log = "".join(finish(run) for run in runs)
    log += module(env, "external.vot.toolkit", "analysis", "--workspace", str(ws), "--format", "json",
                  "--name", "report", *TRACKERS)
    return ws, read_summary(ws / "analysis" / "report.json"), log


def test_both_trackers_have_finite_accuracy_eao_and_f_score(workspace):
    _, summary, _ = workspace
    assert sorted(summary) == sorted(TRACKERS)
    for tracker, values in summary.items():
        for key in ("baseline.eao", "baseline.accuracy", "baseline.robustness", "unsupervised.accuracy",
                    "unsupervised.precision", "unsupervised.recall", "unsupervised.f_score"):
            assert key in values and math.isfinite(values[key]) and 0 <= values[key] <= 1, (tracker, key, values)


def test_multistart_ran_every_anchor_in_both_directions(workspace):
    ws, _, _ = workspace
    for tracker in TRACKERS:
        runs = sorted(os.path.basename(p) for p in glob.glob(str(ws / "results" / tracker / "baseline" / "*" /
                                                                   "*.bin")))
        # 40 frames, anchors every 25: frame 0 forward and frame 25 backward in each of the 3 sequences
        assert len(runs) == 6 and sum(r.endswith("_00000025.bin") for r in runs) == 3, runs


def test_every_frame_reports_a_confidence(workspace):
    ws, _, _ = workspace
    for tracker in TRACKERS:
        files = glob.glob(str(ws / "results" / tracker / "unsupervised" / "*" / "*_confidence.value"))
        assert len(files) == 3
        for path in files:
            values = np.loadtxt(path)
            assert len(values) == 40 and np.isfinite(values[1:]).all()


def test_the_toolkit_never_checked_for_updates(workspace):
    _, _, log = workspace
    assert log.count("Configuration: debug_mode=True") == 2  # the toolkit's debug log was on for both evaluations
    assert "Checking for new version" not in log  # what its update check logs in debug mode
    assert log.count("Evaluation concluded successfuly") == 2 and "Analysis successful" in log


def test_patched_toolkit_skips_the_update_check_and_repairs_multistart(monkeypatch):
    import requests
    import vot
    import vot.utilities.cli as cli
    from vot.experiment.multistart import MultiStartExperiment

    from external.vot import toolkit

    monkeypatch.setattr(cli, "check_updates", cli.check_updates)  # restored after the test
    monkeypatch.setattr(MultiStartExperiment, "execute", MultiStartExperiment.execute)
    monkeypatch.setattr(requests, "get", lambda *a, **k: pytest.fail("the update check went to the network"))
    toolkit.patch_toolkit()
    assert cli.check_updates() == (False, None)
    assert (MultiStartExperiment.execute is toolkit.execute_multistart) == (vot.__version__ in
                                                                           toolkit.BROKEN_MULTISTART)
