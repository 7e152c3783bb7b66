"""profile_model: parameter counts, thop MACs and torch FLOPs checked against hand counts, JSON output."""
from __future__ import annotations

import json
import os
import runpy

import pytest
import torch
import torch.nn as nn

from lib import families
from lib.config.node import CfgNode
from lib.families import Family
from lib.utils.profiling import ProfileStep, count_multihead_attention, profile_steps, thop_macs, torch_flops

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Conv 3->4, 3x3, padding 1 on 8x8: 8*8*4 outputs x 27 MACs = 6912; Linear 256 -> 2: 512. FLOPs = 2 x MACs.
CONV_MACS, LINEAR_MACS = 8 * 8 * 4 * 27, 256 * 2


class TinyNet(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.backbone = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        self.box_head = nn.Linear(channels * 64, 2)

    def forward(self, search: torch.Tensor) -> torch.Tensor:
        return self.box_head(self.backbone(search).flatten(1))

    def features(self, search: torch.Tensor) -> torch.Tensor:
        return self.backbone(search).flatten(1)


def add_config(cfg: CfgNode, script: str) -> None:
    cfg.MODEL.CHANNELS = 4


def build_model(cfg: CfgNode, training: bool) -> nn.Module:
    return TinyNet(cfg.MODEL.CHANNELS)


def dummy_inputs(cfg: CfgNode, device: torch.device) -> tuple:
    return (torch.rand(1, 3, 8, 8, device=device),)


def split_steps(cfg: CfgNode, device: torch.device):
    """Two sub-steps, the second on features prepared with the model (as a family with cached templates)."""
    search = torch.rand(1, 3, 8, 8, device=device)

    def steps(model):
        feats = model.features(search)
        return [ProfileStep("backbone", model.backbone, (search,)), ProfileStep("head", model.box_head, (feats,))]
    return steps


FAKE = Family(name="fakeprof", scripts={"fakeprof": "FAKEPROF"}, trackers={}, add_config=add_config,
              build_model=build_model, dummy_inputs=dummy_inputs)


@pytest.fixture
def profile_cli(monkeypatch, tmp_path):
    families.register(FAKE)
    monkeypatch.syspath_prepend(os.path.join(REPO, "tracking"))
    config = tmp_path / "tiny.yaml"
    config.write_text("MODEL:\n  CHANNELS: 4\n")
    yield runpy.run_path(os.path.join(REPO, "tracking", "profile_model.py"), run_name="profile_cli"), str(config)
    families.unregister(FAKE.name)


def test_profile_model_prints_and_writes_json(profile_cli, tmp_path, capsys):
    cli, config = profile_cli
    out_json = tmp_path / "out" / "profile.json"
    assert cli["main"](["--script", "fakeprof", "--config", config, "--device", "cpu", "--runs", "3",
                        "--warmup", "1", "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "parameters" in printed and "MACs (thop)" in printed and "FLOPs (torch)" in printed and "FPS" in printed
    assert "thop" in printed and "published" in printed  # the MACs convention is stated
    result = json.loads(out_json.read_text())
    model = TinyNet(4)
    assert result["params"]["total"] == sum(p.numel() for p in model.parameters())
    assert result["params"]["modules"] == {"backbone": 3 * 4 * 9, "box_head": 256 * 2 + 2}
    assert result["macs"]["total"] == CONV_MACS + LINEAR_MACS
    assert result["flops"]["total"] == 2 * (CONV_MACS + LINEAR_MACS)
    assert result["latency_ms"]["runs"] == 3 and result["latency_ms"]["median"] > 0
    assert result["fps"] == pytest.approx(1000 / result["latency_ms"]["median"])


def test_sub_steps_are_profiled_separately():
    model = TinyNet(4).eval()
    from lib.utils.profiling import tracking_steps

    steps = tracking_steps(model, split_steps(None, torch.device("cpu")))
    result = profile_steps(model, steps, torch.device("cpu"), runs=2, warmup=0)
    assert result["macs"]["steps"] == {"backbone": CONV_MACS, "head": LINEAR_MACS}
    assert result["flops"]["steps"] == {"backbone": 2 * CONV_MACS, "head": 2 * LINEAR_MACS}
    # thop's temporary counters do not stay behind in the model.
    assert set(model.state_dict()) == {"backbone.weight", "box_head.weight", "box_head.bias"}


def test_multihead_attention_rule_by_hand():
    mha = nn.MultiheadAttention(8, 2)
    query, key = torch.rand(5, 2, 8), torch.rand(7, 2, 8)
    step = ProfileStep("attn", mha, (query, key, key), thop_rules={nn.MultiheadAttention: count_multihead_attention})
    # Q and output projections 2 * 5*8*8, K and V projections 2 * 7*8*8, QK^T and AV 2 * 5*7*8; batch 2.
    assert thop_macs(step) == 2 * (2 * 5 * 64 + 2 * 7 * 64 + 2 * 5 * 7 * 8)


def test_latency_stops_at_the_time_budget():
    import time as _time

    from lib.utils.profiling import measure_latency

    step = ProfileStep("sleep", lambda: _time.sleep(0.05))  # a step that takes at least 50 ms
    times, warmed = measure_latency([step], torch.device("cpu"), runs=100, warmup=20, budget_s=0.2)
    assert warmed == 1 and 1 <= len(times) <= 4  # warm-up: a fifth of the budget; timing: 0.2 s, not 100 runs
    times, warmed = measure_latency([step], torch.device("cpu"), runs=3, warmup=1)
    assert warmed == 1 and len(times) == 3


def test_attention_flops_counted_under_scaled_dot_product_attention():
    class Attention(nn.Module):
        def forward(self, q):
            return torch.nn.functional.scaled_dot_product_attention(q, q, q)

    q = torch.rand(1, 2, 10, 8)
    # Q K^T and A V: 2 matmuls of 10 x 10 x 8 multiply-adds per head, 2 heads, 2 FLOPs each
    assert torch_flops(ProfileStep("attn", Attention(), (q,))) == 2 * 2 * (2 * 10 * 10 * 8)


@pytest.mark.slow  # builds and runs the 92 M-parameter model: about 30 s on a loaded CPU
def test_ostrack_vitb_flops_include_attention():
    """OSTrack-256 (ViT-B, candidate elimination) reads 45.28 GFLOPs with the attention matmuls counted; without
    the scaled_dot_product_attention formula on the CPU it read 43.00."""
    from lib.families import load_config
    from lib.families import get_family
    from lib.utils.profiling import tracking_steps

    family = get_family("ostrack")
    cfg = load_config("ostrack", "vitb_256_mae_ce_32x4_ep300")
    model = family.build_model(cfg, False).eval()
    with torch.no_grad():
        steps = tracking_steps(model, family.dummy_inputs(cfg, torch.device("cpu")))
    assert round(sum(torch_flops(step) for step in steps) / 1e9, 2) == 45.28
