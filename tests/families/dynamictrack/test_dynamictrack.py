"""DynamicTrack behaviour the conformance suite does not cover: the official router pooling, the route decision
(`score < threshold`, heavy below; no router = heavy), the step-2 router loss with the tracked median gap, and the
step checks. Manifest keys, parameters and per-component MACs are checked by tests/conformance."""
import math

import numpy as np
import pytest
import torch

from lib.config import ConfigError
from lib.families import get_family, load_config
from lib.families.dynamictrack.actor import MEDIAN_EVERY, MEDIAN_WARMUP, DynamicTrackActor, GapTracker
from lib.families.dynamictrack.model import AdaptiveRouter
from lib.families.dynamictrack.tracker import DynamicTrackTracker
from lib.test.parameter import TrackerParams
from tests.conformance.synthetic import render_frame, target_box


def test_router_pools_the_token_major_buffer_as_the_official_view():
    torch.manual_seed(0)
    router = AdaptiveRouter(8, reduction=4)
    tokens = torch.randn(6, 2, 8)  # (HW, B, C)
    flat = tokens.flatten().tolist()
    # Official: view (HW, B, C) memory as (B, C, HW), mean over the last axis: image b, "channel" c averages
    # flat[(b * C + c) * HW : (b * C + c + 1) * HW].
    pooled = torch.tensor([[np.mean(flat[(b * 8 + c) * 6:(b * 8 + c + 1) * 6]) for c in range(8)]
                           for b in range(2)], dtype=torch.float32)
    hidden = torch.relu(pooled @ router.layer1.weight[:, :, 0, 0].T + router.layer1.bias)
    expected = torch.sigmoid(hidden @ router.layer2.weight[:, :, 0, 0].T + router.layer2.bias)[:, 0]
    assert torch.allclose(router(tokens), expected, atol=1e-6)
    spatial_mean = tokens.mean(dim=0)
    hidden = torch.relu(spatial_mean @ router.layer1.weight[:, :, 0, 0].T + router.layer1.bias)
    per_channel = torch.sigmoid(hidden @ router.layer2.weight[:, :, 0, 0].T + router.layer2.bias)[:, 0]
    assert not torch.allclose(router(tokens), per_channel, atol=1e-4)  # the reduction is not a spatial mean


def _tracker(config: str, threshold: float | None = None, score: float | None = None) -> DynamicTrackTracker:
    opts = [] if threshold is None else ["TEST.ROUTER_THRESHOLD", str(threshold)]
    params = TrackerParams.create("dynamictrack", config, load_weights=False, opts=opts)
    torch.manual_seed(0)
    net = get_family("dynamictrack").build_model(params.cfg, False).eval()
    if score is not None:  # a router whose score is `score` for every image
        with torch.no_grad():
            net.router.layer2.weight.zero_()
            net.router.layer2.bias.fill_(math.log(score / (1 - score)))
    return DynamicTrackTracker(params, net)


def _routes(tracker: DynamicTrackTracker) -> list[dict]:
    tracker.initialize(render_frame(0, 3), {"init_bbox": target_box(0)})
    return [tracker.track(render_frame(f, 3)) for f in (1, 2)]


@pytest.mark.parametrize("threshold,route", [(0.0, "light"), (0.25, "light"), (0.3, "light"), (0.35, "heavy"),
                                             (1.0, "heavy")])
def test_heavy_route_when_the_score_is_below_the_threshold(threshold, route):
    for out in _routes(_tracker("tiny_step2", threshold, score=0.3)):
        assert out["route"] == route and out["heavy_route"] == float(route == "heavy")
        assert out["router_score"] == pytest.approx(0.3, abs=1e-6)


def test_routes_use_their_own_branch():
    light, heavy = (_routes(_tracker("tiny_step2", t, score=0.3)) for t in (0.0, 1.0))
    assert [o["target_bbox"] for o in light] != [o["target_bbox"] for o in heavy]


def test_a_model_without_router_takes_the_heavy_route():
    outs = _routes(_tracker("tiny"))
    assert [o["route"] for o in outs] == ["heavy", "heavy"] and outs[0]["router_score"] is None


def test_threshold_outside_0_1_is_a_config_error():
    with pytest.raises(ConfigError, match="TEST.ROUTER_THRESHOLD"):
        load_config("dynamictrack", "tiny_step2", ["TEST.ROUTER_THRESHOLD", "1.5"])


def test_gap_is_the_median_for_the_first_samples_then_every_thousand():
    gap = GapTracker()
    assert [gap.add(d) for d in (3.0, -1.0, 2.0)] == [3.0, 1.0, 2.0]
    for _ in range(MEDIAN_WARMUP - 3):
        gap.add(0.0)
    assert gap.value == 0.0
    for _ in range(MEDIAN_EVERY - 1):
        gap.add(5.0)  # the median moves to 5 only at the next refresh
    assert len(gap.diffs) % MEDIAN_EVERY == MEDIAN_EVERY - 1 and gap.value == 0.0
    for _ in range(MEDIAN_EVERY * 20):  # fives become the majority at a refresh
        gap.add(5.0)
    assert gap.value == 5.0


def test_router_loss_weights_the_shifted_branch_losses_by_the_score():
    actor = DynamicTrackActor(torch.nn.Identity(), {"giou": 2.0, "l1": 5.0}, 1, router_step=True)
    gt = torch.tensor([[0.2, 0.2, 0.4, 0.4], [0.1, 0.1, 0.5, 0.5]])
    light = torch.tensor([[[0.45, 0.4, 0.4, 0.4]], [[0.35, 0.35, 0.5, 0.5]]])  # cx, cy, w, h
    heavy = torch.tensor([[[0.4, 0.4, 0.4, 0.4]], [[0.3, 0.3, 0.4, 0.5]]])
    score = torch.tensor([0.2, 0.9], requires_grad=True)
    loss, stats = actor.router_loss({1: light, 2: heavy, "score": score}, gt)
    per = {i: [actor.box_losses(b[k:k + 1], gt[k:k + 1])[0].item() for k in range(2)] for i, b in ((1, light),
                                                                                                      (2, heavy))}
    diffs = [per[1][k] - per[2][k] for k in range(2)]
    gaps = [diffs[0], float(np.median(diffs))]  # the median after each sample, as the official actor
    expected = np.mean([s * (per[1][k] - gaps[k] / 2) + (1 - s) * (per[2][k] + gaps[k] / 2)
                        for k, s in enumerate((0.2, 0.9))])
    assert loss.item() == pytest.approx(expected, rel=1e-5) and stats["Router/median_gap"] == pytest.approx(gaps[1])
    loss.backward()  # d loss / d s_k = (loss1_k - loss2_k - gap_k) / batch
    assert score.grad.tolist() == pytest.approx([(diffs[k] - gaps[k]) / 2 for k in range(2)], abs=1e-5)


def test_step2_needs_init_from_and_trains_the_router_only():
    family = get_family("dynamictrack")
    cfg = load_config("dynamictrack", "tiny_step2", ["TRAIN.INIT_FROM", "''"])
    with pytest.raises(ConfigError, match="TRAIN.INIT_FROM"):
        family.build_actor(torch.nn.Identity(), cfg, "dynamictrack")
    cfg = load_config("dynamictrack", "tiny", ["TRAIN.TRAINABLE", "[transformer1]"])
    with pytest.raises(ConfigError, match="TRAIN.TRAINABLE"):
        family.build_actor(torch.nn.Identity(), cfg, "dynamictrack")


def test_step1_trains_both_branches_without_router():
    cfg = load_config("dynamictrack", "tiny")
    family = get_family("dynamictrack")
    torch.manual_seed(0)
    net = family.build_model(cfg, True)
    assert net.router is None
    batch = {"template_images": torch.randn(1, 2, 3, 64, 64), "template_att": torch.zeros(1, 2, 64, 64, dtype=bool),
             "search_images": torch.randn(1, 2, 3, 128, 128), "search_att": torch.zeros(1, 2, 128, 128, dtype=bool),
             "search_anno": torch.tensor([[[0.3, 0.3, 0.4, 0.4], [0.1, 0.2, 0.3, 0.2]]])}
    loss, stats = family.build_actor(net, cfg, "dynamictrack")(batch)
    assert loss.item() == pytest.approx(stats["Loss/loss1"] + stats["Loss/loss2"], rel=1e-5)
    loss.backward()
    for branch in ("transformer1", "transformer2", "box_head1", "box_head2", "backbone1.0.body.layer3",
                   "backbone2.0.body.layer3"):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for n, p in net.named_parameters()
                   if n.startswith(branch)), branch


def test_a_step2_update_changes_router_weights_only():
    """Step-1 weights in, one optimiser step of step 2: every other entry, batch-norm statistics included, stays."""
    from lib.train.optim import build_optimizer, default_param_groups
    from lib.train.staging import apply_freeze

    family = get_family("dynamictrack")
    torch.manual_seed(0)
    step1 = family.build_model(load_config("dynamictrack", "tiny"), True).state_dict()
    cfg = load_config("dynamictrack", "tiny_step2")
    net = family.build_model(cfg, True)
    assert set(net.state_dict()) - set(step1) == {f"router.layer{i}.{p}" for i in (1, 2) for p in ("weight", "bias")}
    net.load_state_dict(step1, strict=False)
    apply_freeze(net, list(cfg.TRAIN.FREEZE), list(cfg.TRAIN.TRAINABLE))
    actor = family.build_actor(net, cfg, "dynamictrack")
    actor.train(True)
    optimizer = build_optimizer(default_param_groups(net, cfg), cfg)
    router_before = {k: v.clone() for k, v in net.router.state_dict().items()}
    batch = {"template_images": torch.randn(1, 2, 3, 64, 64), "template_att": torch.zeros(1, 2, 64, 64, dtype=bool),
             "search_images": torch.randn(1, 2, 3, 128, 128), "search_att": torch.zeros(1, 2, 128, 128, dtype=bool),
             "search_anno": torch.tensor([[[0.3, 0.3, 0.4, 0.4], [0.1, 0.2, 0.3, 0.2]]])}
    loss, _ = actor(batch)
    loss.backward()
    optimizer.step()
    after = net.state_dict()
    assert all(torch.equal(after[k], v) for k, v in step1.items())
    assert any(not torch.equal(after[f"router.{k}"], v) for k, v in router_before.items())


@pytest.mark.parametrize("argv,message", [
    (["--config", "tiny_step2", "--thresholds", "0", "1.5"], "error: --thresholds: [1.5] outside [0, 1]"),
    (["--config", "tiny_step2", "--thresholds", "0.5", "0.501"], "error: --thresholds"),
    (["--config", "tiny", "--device", "cpu"], "error: --config tiny: MODEL.BACKBONE.Dynamic is false"),
])
def test_sweep_mistakes_are_one_error_line(argv, message, capsys):
    from lib.families.dynamictrack.sweep import main
    from lib.utils.cli import run_main

    assert run_main(main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_step1_model_has_the_manifest_entries_but_the_router():
    """A step-1 checkpoint (official or ours) loads strictly into the model of `baseline` (no router)."""
    from tests.fixtures.manifests import reference_manifest

    with torch.device("meta"):
        net = get_family("dynamictrack").build_model(load_config("dynamictrack", "baseline"), False)
    expected = [(e["key"], e["shape"]) for e in reference_manifest("dynamictrack.json")["state_dict"]
                if not e["key"].startswith("router.")]
    assert [(k, list(v.shape)) for k, v in net.state_dict().items()] == expected
