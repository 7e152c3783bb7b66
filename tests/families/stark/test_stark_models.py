"""STARK configs and models: official experiment files, tiny forward and backward, config checks, profiling
inputs. Full-size models are checked against the official manifests by tests/conformance (keys, shapes, parameters,
thop MACs); here, the torch FLOPs of their tracking step."""
import os

import pytest
import torch
import torch.nn as nn

from lib.config import ConfigError
from lib.families import get_family, load_config
from tests.fixtures.manifests import reference_manifest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OFFICIAL = {
    "stark_s": ["baseline", "baseline_got10k_only"],
    "stark_st1": ["baseline", "baseline_R101", "baseline_got10k_only", "baseline_R101_got10k_only"],
    "stark_st2": ["baseline", "baseline_R101", "baseline_got10k_only", "baseline_R101_got10k_only"],
}


def build(script, config="tiny", training=False, opts=()):
    cfg = load_config(script, config, opts)
    return get_family(script).build_model(cfg, training), cfg


@pytest.mark.parametrize("script,config", [(s, c) for s, cs in OFFICIAL.items() for c in cs + ["tiny"]])
def test_every_experiment_file_loads(script, config):
    cfg = load_config(script, config)
    assert cfg.MODEL.HEAD_TYPE == "CORNER"


def test_official_values_per_script():
    s = load_config("stark_s", "baseline")
    assert (s.DATA.SAMPLER_MODE, s.DATA.MAX_SAMPLE_INTERVAL, s.DATA.TEMPLATE.NUMBER) == ("causal", 200, 1)
    assert "NLAYER_HEAD" not in s.MODEL and "TRAIN_CLS" not in s.TRAIN and "UPDATE_INTERVALS" not in s.TEST
    st1 = load_config("stark_st1", "baseline_R101")
    assert st1.MODEL.BACKBONE.TYPE == "resnet101" and st1.DATA.TEMPLATE.NUMBER == 2
    assert (st1.DATA.SAMPLER_MODE, st1.DATA.MAX_SAMPLE_INTERVAL) == ("trident_pro", [200])
    assert (st1.TRAIN.GIOU_WEIGHT, st1.TRAIN.L1_WEIGHT, st1.TRAIN.TRAINABLE) == (2.0, 5.0, [])
    st2 = load_config("stark_st2", "baseline_R101")
    assert (st2.TRAIN.EPOCH, st2.TRAIN.LR_DROP_EPOCH, st2.TEST.EPOCH) == (50, 40, 50)
    assert st2.TRAIN.TRAIN_CLS and st2.TRAIN.TRAINABLE == ["cls_head"]
    assert dict(st2.TEST.UPDATE_INTERVALS) == {"LASOT": [200], "GOT10K_TEST": [200], "TRACKINGNET": [25],
                                               "VOT20": [10], "VOT20LT": [100]}
    # The GOT-10k-only stage-2 files set no intervals: the config defaults ([200] everywhere) apply.
    got = load_config("stark_st2", "baseline_got10k_only")
    assert set(map(tuple, got.TEST.UPDATE_INTERVALS.values())) == {(200,)}


def test_unknown_key_in_a_stark_file_fails(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("_BASE_: " + os.path.join(REPO, "experiments", "stark_s", "baseline.yaml") +
                   "\nMODEL:\n  NLAYER_HEAD: 3\n")
    with pytest.raises(ConfigError, match="NLAYER_HEAD"):  # a stark_st key, not declared for stark_s
        load_config("stark_s", str(bad))


def _batch(num_templates, batch=2, template=64, search=128):
    t_mask = torch.zeros(num_templates, batch, template, template, dtype=torch.bool)
    t_mask[:, 0, :, :10] = True  # some padding, as near a frame border
    return {"template_images": torch.randn(num_templates, batch, 3, template, template), "template_att": t_mask,
            "search_images": torch.randn(1, batch, 3, search, search),
            "search_att": torch.zeros(1, batch, search, search, dtype=torch.bool),
            "search_anno": torch.tensor([[[0.3, 0.3, 0.4, 0.4], [0.1, 0.2, 0.3, 0.2]]]),
            "label": torch.tensor([[1.0, 0.0]])}


@pytest.mark.parametrize("script", ["stark_s", "stark_st1"])
def test_tiny_forward_backward(script):
    net, cfg = build(script)
    data = _batch(cfg.DATA.TEMPLATE.NUMBER)
    tokens = [net(img=data["template_images"][i], mask=data["template_att"][i], mode="backbone")
              for i in range(cfg.DATA.TEMPLATE.NUMBER)]
    assert tokens[0]["feat"].shape == (16, 2, 64) and tokens[0]["mask"].shape == (2, 16)
    assert tokens[0]["mask"][0, 0] and not tokens[0]["mask"][1].any()
    from lib.families.stark.model import merge_tokens

    out, boxes, hs = net(img=data["search_images"][0], mask=data["search_att"][0], seq_dict=merge_tokens(tokens),
                         mode="track", run_box_head=True, run_cls_head=script == "stark_st1")
    assert out["pred_boxes"].shape == (2, 1, 4) and hs.shape == (1, 2, 1, 64)
    loss = out["pred_boxes"].sum() + (out["pred_logits"].sum() if "pred_logits" in out else 0)
    loss.backward()
    grads = {n.split(".")[0] for n, p in net.named_parameters() if p.grad is not None}
    assert {"backbone", "transformer", "box_head", "bottleneck", "query_embed"} <= grads
    assert net.backbone[0].body.conv1.weight.grad is None  # frozen stem
    if script == "stark_st1":
        assert out["pred_logits"].shape == (2, 1, 1) and "cls_head" in grads


def test_stark_s_has_no_score_head():
    net, _ = build("stark_s")
    seq = {"feat": torch.randn(80, 1, 64), "mask": torch.zeros(1, 80, dtype=torch.bool), "pos": torch.randn(80, 1, 64)}
    with pytest.raises(ValueError, match="score head"):
        net.forward_transformer(seq, run_box_head=True, run_cls_head=True)


def test_pretrained_backbone_only_when_training(tmp_path, isolated_env):
    import torchvision.models as tvm

    state = tvm.resnet18(weights=None).state_dict()
    state["conv1.weight"].fill_(0.5)
    torch.save(state, tmp_path / "resnet18-f37072fd.pth")
    isolated_env.setenv("TRACKZOO_PRETRAINED_NETWORKS", str(tmp_path))
    trained, _ = build("stark_s", training=True, opts=["MODEL.BACKBONE.PRETRAINED", "true"])
    assert (trained.backbone[0].body.conv1.weight == 0.5).all()
    untrained, _ = build("stark_s", training=False, opts=["MODEL.BACKBONE.PRETRAINED", "true"])
    assert not (untrained.backbone[0].body.conv1.weight == 0.5).all()


@pytest.mark.parametrize("opts,message", [
    (["MODEL.HEAD_TYPE", "MLP"], "HEAD_TYPE"),
    (["MODEL.POSITION_EMBEDDING", "learned"], "POSITION_EMBEDDING"),
    (["TRAIN.DEEP_SUPERVISION", "true"], "DEEP_SUPERVISION"),
    (["TRAIN.FREEZE_LAYERS", "[layer4]"], "FREEZE_LAYERS"),
    (["MODEL.BACKBONE.TYPE", "resnet7"], "resnet7"),
    (["MODEL.BACKBONE.STRIDE", "8"], "STRIDE"),  # the backbone has stride 16
    (["MODEL.BACKBONE.DILATION", "true"], "dilation"),  # resnet18 has basic blocks
    (["DATA.SEARCH.SIZE", "120"], "multiple"),
])
def test_unsupported_settings_fail_with_the_key(opts, message):
    with pytest.raises(ConfigError, match=message):
        build("stark_st1", opts=opts)


def test_freeze_layers_and_backbone_multiplier_decide_backbone_training():
    net, _ = build("stark_s", opts=["TRAIN.FREEZE_LAYERS", "[conv1, layer1, layer2]"])
    assert {n.split(".")[2] for n, p in net.backbone.named_parameters() if p.requires_grad} == {"layer3"}
    net, _ = build("stark_s", opts=["TRAIN.BACKBONE_MULTIPLIER", "0.0"])
    assert not any(p.requires_grad for p in net.backbone.parameters())


def test_attention_macs_rule_counts_like_the_official_profiler():
    from lib.families.stark.model import attention_macs

    attn = nn.MultiheadAttention(8, 2)
    attn.total_ops = torch.zeros(1, dtype=torch.float64)
    query, key = torch.randn(2, 1, 8), torch.randn(5, 1, 8)
    attention_macs(attn, (query, key, key), None)
    # Q projection 2*8*8, K and V projections 2*5*8*8, attention 2*2*5*8
    assert attn.total_ops.item() == 2 * 8 * 8 + 2 * 5 * 8 * 8 + 2 * 2 * 5 * 8


def test_dummy_inputs_profile_one_search_step():
    from lib.utils.profiling import thop_macs, tracking_steps

    net, cfg = build("stark_st2")
    net.eval()
    with torch.no_grad():
        steps = tracking_steps(net, get_family("stark_st2").dummy_inputs(cfg, torch.device("cpu")))
        assert [s.name for s in steps] == ["backbone (search)", "transformer + heads"]
        assert steps[0]()["feat"].shape == (64, 1, 64)  # 128 / 16 = 8 -> 64 search tokens
        out, _, _ = steps[1]()
        assert set(out) == {"pred_boxes", "pred_logits"}
        # the transformer sees 2 templates x 16 tokens + 64 search tokens
        assert steps[1].args[2]["feat"].shape == (96, 1, 64)
    assert thop_macs(steps[0]) > 0 and thop_macs(steps[1]) > 0


@pytest.mark.parametrize("script, config, manifest", [("stark_s", "baseline", "stark_s50.json"),
                                                      ("stark_st2", "baseline", "stark_st50.json"),
                                                      ("stark_st2", "baseline_R101", "stark_st101.json")])
def test_torch_flops_of_the_tracking_step_equal_the_official_model(script, config, manifest):
    from lib.utils.profiling import torch_flops, tracking_steps

    cfg = load_config(script, config)
    with torch.device("meta"):
        net = get_family(script).build_model(cfg, False).eval()
    with torch.no_grad():
        steps = tracking_steps(net, get_family(script).dummy_inputs(cfg, torch.device("meta")))
    flops = sum(torch_flops(step) for step in steps)
    assert flops == reference_manifest(manifest)["flops_per_tracking_step_torch_flop_counter"]


def test_only_layer2_and_layer3_of_the_backbone_train():
    cfg = load_config("stark_s", "baseline")
    with torch.device("meta"):
        net = get_family("stark_s").build_model(cfg, False)
    trainable = {n.split(".")[2] for n, p in net.backbone.named_parameters() if p.requires_grad}
    assert trainable == {"layer2", "layer3"}
    assert all(p.requires_grad for n, p in net.named_parameters() if not n.startswith("backbone"))
