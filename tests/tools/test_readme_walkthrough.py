"""The README's synthetic walkthrough, run exactly as printed (bash, from the repository root) with DATA and OUT
pointed at a temporary folder: every family's tiny config trains on the synthetic GOT-10k split, is tested on the
synthetic LaSOT split and scored."""
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.slow


def walkthrough() -> str:
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    block = re.search(r"<!-- synthetic-walkthrough:start -->\n```bash\n(.*?)```\n<!-- synthetic-walkthrough:end -->",
                      text, re.S)
    assert block, "README.md lost its synthetic walkthrough block"
    return block.group(1)


def test_readme_synthetic_walkthrough_trains_tests_and_scores_every_family(tmp_path):
    script = walkthrough()
    first, rest = script.split("\n", 1)
    assert first == "DATA=./data OUT=./output"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKZOO_")}
    # The `python` of the README is the interpreter running the tests.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    commands = f"set -euo pipefail\nDATA={tmp_path}/data OUT={tmp_path}/output\n{rest}"
    done = subprocess.run(["bash", "-c", commands], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    for label in ("stark_s_tiny", "stark_st_tiny", "ostrack_tiny"):
        assert label in done.stdout
    assert "Reporting results over 3 / 3 sequences" in done.stdout
