"""tests/benchmarks/gpu_checks.sh, the prepared GPU run, tried on the CPU (DEVICE=cpu: bf16, no graphs) so that it
still works when a GPU machine is at hand: its end-to-end stage generates data, writes random weights, runs
test.py three ways and reports each run's speed."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_the_end_to_end_stage_runs_on_the_cpu(tmp_path):
    env = {**os.environ, "DEVICE": "cpu", "STAGES": "e2e", "SEQUENCES": "1", "FRAMES": "4", "BATCH": "2",
           "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(["bash", os.path.join(REPO, "tests", "benchmarks", "gpu_checks.sh"), str(tmp_path / "out")],
                         env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.rstrip().endswith(f"all steps passed (logs in {tmp_path / 'out'})")
    for run in ("e2e_fp32", "e2e_fast", "e2e_batched"):
        log = (tmp_path / "out" / f"{run}.log").read_text()
        assert "done 1, skipped (already done) 0, failed 0; " in log and "frames/s of tracker time" in log
    assert "device cpu, bf16," in (tmp_path / "out" / "e2e_fast.log").read_text()
