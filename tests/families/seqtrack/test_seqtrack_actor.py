"""SeqTrack tokenisation and loss, as the official actor computes them."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from lib.families import load_config
from lib.families.seqtrack.actor import SeqTrackActor, box_tokens, tokens_to_cxcywh
from tests.families.seqtrack.helpers import drawn_tiny_model


def test_box_tokens_clamp_convert_to_centre_size_and_truncate():
    xywh = torch.tensor([[0.1, 0.2, 0.3, 0.4], [-0.2, 0.5, 0.4, 0.8]])
    tokens = box_tokens(xywh, 4000, "xywh")
    # [0.1, 0.2, 0.4, 0.6] -> (0.25, 0.4, 0.3, 0.4); [-0.2, 0.5, 0.2, 1.3] clamps to [0, 0.5, 0.2, 1] -> (0.1, 0.75, 0.2, 0.5)
    expected = [[int(v * 3999) for v in (0.25, 0.4, 0.3, 0.4)], [int(v * 3999) for v in (0.1, 0.75, 0.2, 0.5)]]
    assert (tokens - torch.tensor(expected)).abs().max() <= 1  # float rounding of the corners may move one bin
    assert box_tokens(xywh, 4000, "whxy").tolist() == tokens[:, [2, 3, 0, 1]].tolist()
    back = tokens_to_cxcywh(box_tokens(xywh, 4000, "corner"), 4000, "corner")
    torch.testing.assert_close(back, tokens_to_cxcywh(tokens, 4000, "xywh"), atol=1e-3, rtol=0)


def test_loss_is_weighted_cross_entropy_over_the_vocabulary_with_end_targets():
    cfg = load_config("seqtrack", "tiny")
    net = drawn_tiny_model()
    actor = SeqTrackActor(net, cfg)
    generator = torch.Generator().manual_seed(0)
    data = {"template_images": torch.randn(2, 3, 3, 64, 64, generator=generator),
            "search_images": torch.randn(1, 3, 3, 128, 128, generator=generator),
            "search_anno": torch.tensor([[[0.3, 0.3, 0.2, 0.25], [0.1, 0.4, 0.5, 0.3], [0.4, 0.1, 0.1, 0.6]]])}
    with torch.no_grad():
        logits, targets = actor.forward_pass(data)
        loss, stats = actor.compute_losses(logits, targets)
    assert logits.shape == (15, 4002)
    assert targets.view(3, 5)[:, 4].tolist() == [4000] * 3  # END after the four coordinates
    weight = torch.ones(4002)
    weight[4000:] = 0.01
    torch.testing.assert_close(loss, F.cross_entropy(logits, targets, weight=weight))
    assert set(stats) == {"Loss/total", "Loss/ce", "IoU"}
