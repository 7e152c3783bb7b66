"""SeqTrack model behaviour the conformance suite does not check: cached decoding, the large configs' size and
cost (no official manifest exists for them), the token layout of the encoder, pre-training files."""
from __future__ import annotations

import pytest
import torch
from torch.fx.experimental import _config as fx_config

from lib.families import get_family, load_config
from lib.families.seqtrack.model import build_seqtrack, hann_window, pretrained_file
from lib.utils.env import MissingPathError
from lib.utils.profiling import thop_macs, tracking_steps
from tests.families.seqtrack.helpers import drawn_tiny_model


@pytest.mark.parametrize("windowed", [True, False])
def test_cached_decoding_equals_full_prefix_decoding_on_100_inputs(windowed):
    net = drawn_tiny_model(seed=3)
    generator = torch.Generator().manual_seed(5)
    xz = [torch.randn(100, 64 + 2 * 16, 64, generator=generator) * 2]
    start = torch.full((100, 1), 4001, dtype=torch.long)
    window = hann_window(4000) if windowed else None
    with torch.no_grad():
        full = net.inference_decoder(xz, start, window=window, use_cache=False)
        cached = net.inference_decoder(xz, start, window=window, use_cache=True)
    assert torch.equal(full["pred_boxes"], cached["pred_boxes"])
    assert len(set(full["pred_boxes"].flatten().tolist())) > 20  # the inputs really differ
    # The cached step multiplies other shapes (one query instead of the prefix), so float32 sums run in another
    # order; with these large drawn weights (logits in the tens) that moves probabilities by up to ~1e-4.
    torch.testing.assert_close(cached["confidence"], full["confidence"], rtol=5e-4, atol=1e-6)


def test_encoder_orders_tokens_search_first_and_templates_share_one_position_table():
    net = drawn_tiny_model()
    body = net.encoder.body
    z = torch.randn(1, 3, 64, 64)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        same = net.forward_encoder([z, z, x])[0]
        changed = net.forward_encoder([z, torch.zeros_like(z), x])[0]
    # Two identical templates get identical tokens (one table); the first 64 tokens are the search crop's.
    assert torch.allclose(same[:, 64:80], same[:, 80:96], atol=1e-6)
    assert body.pos_embed.shape == (1, 64 + 16, 64)
    assert not torch.allclose(changed[:, 80:96], same[:, 80:96])


# Large configs: parameters as counted on the official model, thop MACs as the official profile counts them (the
# published 232 G / 524 G; the official re-count 232.8 G / 523.8 G, see shared/research/stark_seqtrack.md 7.1).
@pytest.mark.parametrize("config,params,macs", [("seqtrack_l256", 308_244_898, 232.8e9),
                                                ("seqtrack_l384", 308_982_178, 523.8e9)])
def test_large_configs_size_and_cost(config, params, macs):
    cfg = load_config("seqtrack", config)
    with torch.device("meta"):
        net = get_family("seqtrack").build_model(cfg, False).eval()
    assert sum(p.numel() for p in net.parameters()) == params
    with torch.no_grad(), fx_config.patch(meta_nonzero_assume_all_nonzero=True):
        steps = tracking_steps(net, get_family("seqtrack").dummy_inputs(cfg, torch.device("meta")))
        assert sum(thop_macs(step) for step in steps) == pytest.approx(macs, rel=1e-3)


def test_mae_files_follow_the_encoder_type_and_a_missing_file_is_named(tmp_path):
    base, large = load_config("seqtrack", "seqtrack_b256"), load_config("seqtrack", "seqtrack_l384_got")
    assert pretrained_file(base) == "mae_pretrain_vit_base.pth"
    assert pretrained_file(large) == "mae_pretrain_vit_large.pth"
    assert pretrained_file(load_config("seqtrack", "tiny")) is None
    with torch.device("meta"), pytest.raises(MissingPathError) as error:
        build_seqtrack(base, True, pretrained_folder=str(tmp_path))
    assert str(tmp_path / "mae_pretrain_vit_base.pth") in str(error.value)
    assert "MODEL.ENCODER.PRETRAIN_TYPE 'scratch'" in str(error.value)
