"""Every entry script starts and answers --help from any working directory (imports and bootstrap work)."""
import glob
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = sorted(p for p in glob.glob(os.path.join(REPO, "tracking", "*.py")) if not p.endswith("_init_paths.py"))
SCRIPTS += [os.path.join(REPO, "lib", "test", "utils", n) for n in ("transform_got10k.py", "transform_trackingnet.py")]
SCRIPTS += [os.path.join(REPO, "lib", "train", "run_training.py")]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: os.path.relpath(p, REPO))
def test_help(script, tmp_path):
    out = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout
