"""OSTrack training objective and candidate-elimination warm-up."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from lib.families import get_family, load_config
from lib.families.ostrack.actor import OSTrackActor, ce_keep_rate
from lib.train.data.labels import gaussian_heatmap


@pytest.mark.parametrize("epoch, start, warm, expected", [
    (1, 20, 80, 1.0), (19, 20, 80, 1.0), (20, 20, 80, 1.0), (60, 20, 80, 0.85), (100, 20, 80, 0.7),
    (300, 20, 80, 0.7), (45, 20, 50, 0.85), (70, 20, 50, 0.7),
    (40, 20, 80, 0.7 + 0.3 * (math.cos(math.pi / 4) + 1) / 2),
])
def test_keep_rate_schedule(epoch, start, warm, expected):
    assert ce_keep_rate(epoch, start, warm, 0.7) == pytest.approx(expected)


class FixedOutput(nn.Module):
    """Stands in for the network: records its inputs, returns given outputs."""

    def __init__(self, out: dict):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(()))
        self.out = out
        self.calls = []

    def forward(self, template, search, ce_template_mask=None, ce_keep_rate=None):
        self.calls.append({"template": template, "search": search, "mask": ce_template_mask,
                           "keep_rate": ce_keep_rate})
        return {k: v * self.weight for k, v in self.out.items()}


def batch(search_anno, label, epoch=1, size=(64, 128)):
    b = search_anno.shape[0]
    return {"template_images": torch.zeros(1, b, 3, size[0], size[0]),
            "search_images": torch.zeros(1, b, 3, size[1], size[1]),
            "template_anno": torch.tensor([[[0.25, 0.25, 0.5, 0.5]] * b]), "search_anno": search_anno[None],
            "search_label": label[None], "epoch": epoch}


def test_loss_is_weighted_giou_l1_and_focal_by_hand():
    cfg = load_config("ostrack", "tiny")
    label = torch.zeros(1, 2, 2)
    label[0, 0, 1] = 1.0
    net = FixedOutput({"pred_boxes": torch.tensor([[[0.5, 0.5, 0.2, 0.2]]]),
                       "score_map": torch.full((1, 1, 2, 2), 0.5)})
    loss, stats = OSTrackActor(net, cfg)(batch(torch.tensor([[0.5, 0.5, 0.2, 0.2]]), label))
    # pred xyxy (.4,.4,.6,.6), gt xyxy (.5,.5,.7,.7): IoU = .01/.07, enclosing .09, GIoU = 1/7 - .02/.09.
    giou = 1 / 7 - 0.02 / 0.09
    l1 = 0.1
    focal = -4 * math.log(0.5) * 0.5 ** 2  # one positive; 3 negatives at (1 - 0)^4; divided by 1 positive
    assert stats["Loss/giou"] == pytest.approx(1 - giou, rel=1e-5)
    assert stats["Loss/l1"] == pytest.approx(l1, rel=1e-5)
    assert stats["Loss/location"] == pytest.approx(focal, rel=1e-5)
    assert loss.item() == pytest.approx(2 * (1 - giou) + 5 * l1 + focal, rel=1e-5)
    assert stats["IoU"] == pytest.approx(1 / 7, rel=1e-5)
    loss.backward()
    assert net.weight.grad is not None


def test_ground_truth_is_clamped_to_the_crop():
    cfg = load_config("ostrack", "tiny")
    net = FixedOutput({"pred_boxes": torch.tensor([[[0.95, 0.95, 0.1, 0.1]]]),
                       "score_map": torch.full((1, 1, 2, 2), 0.5)})
    # GT xyxy (0.9, 0.9, 1.2, 1.2) clamps to the predicted (0.9, 0.9, 1.0, 1.0).
    _, stats = OSTrackActor(net, cfg)(batch(torch.tensor([[0.9, 0.9, 0.3, 0.3]]), torch.zeros(1, 2, 2)))
    assert stats["Loss/l1"] == pytest.approx(0.0, abs=1e-6)
    assert stats["Loss/giou"] == pytest.approx(0.0, abs=1e-6)


def test_actor_passes_warm_up_keep_rate_and_template_point():
    cfg = load_config("ostrack", "tiny")  # CE_START_EPOCH 2, CE_WARM_EPOCH 4, keep 0.7
    net = FixedOutput({"pred_boxes": torch.full((2, 1, 4), 0.5), "score_map": torch.full((2, 1, 8, 8), 0.5)})
    actor = OSTrackActor(net, cfg)
    anno, label = torch.full((2, 4), 0.4), torch.zeros(2, 8, 8)
    for epoch, expected in ((1, 1.0), (4, 0.85), (9, 0.7)):
        actor(batch(anno, label, epoch=epoch))
        assert net.calls[-1]["keep_rate"] == pytest.approx(expected)
    mask = net.calls[-1]["mask"]
    assert mask.shape == (2, 16) and mask.nonzero()[:, 1].tolist() == [5, 5]
    assert net.calls[-1]["search"].shape == (2, 3, 128, 128)


def test_more_than_one_search_frame_is_refused():
    cfg = load_config("ostrack", "tiny")
    net = FixedOutput({"pred_boxes": torch.full((1, 1, 4), 0.5), "score_map": torch.full((1, 1, 8, 8), 0.5)})
    data = batch(torch.full((1, 4), 0.4), torch.zeros(1, 8, 8))
    data["search_images"] = data["search_images"].repeat(2, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="exactly one template and one search"):
        OSTrackActor(net, cfg)(data)


def test_training_steps_on_the_tiny_model_reduce_the_loss():
    torch.manual_seed(0)
    cfg = load_config("ostrack", "tiny")
    family = get_family("ostrack")
    net = family.build_model(cfg, True).train()
    actor = family.build_actor(net, cfg, "ostrack")
    boxes = torch.tensor([[0.3, 0.35, 0.3, 0.25], [0.45, 0.4, 0.2, 0.3]])
    label = torch.from_numpy(np.stack([gaussian_heatmap(b.tolist(), 8) for b in boxes]))
    data = batch(boxes, label, epoch=3)
    data["template_images"] = torch.randn_like(data["template_images"])
    data["search_images"] = torch.randn_like(data["search_images"])
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        loss, stats = actor(data)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        assert math.isfinite(loss.item()) and set(stats) >= {"Loss/total", "Loss/giou", "Loss/l1", "IoU"}
    assert losses[-1] < losses[0]
