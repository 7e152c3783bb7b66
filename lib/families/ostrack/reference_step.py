"""The official OSTrack tracking step (botaoye/OSTrack), for `benchmark_speed.py --reference`.

Loaded by path into tracking/speed_reference_worker.py, which runs with the official repository as `lib`: so this
file imports only torch and the official code, never TrackZoo modules.
"""
import sys
import types

import torch


def register_torch_six() -> None:
    """`torch._six`, removed from torch (2.0), as the release's data loader imports it (string_classes,
    int_classes): a stand-in registered in this process only."""
    six = types.ModuleType("torch._six")
    six.string_classes, six.int_classes = (str, bytes), int
    sys.modules.setdefault("torch._six", six)


def official_ce_mask(cfg, inputs: dict) -> torch.Tensor | None:
    """The candidate-elimination template mask the official tracker makes at initialisation from the initial box
    (None without candidate elimination). Also what forks of the release (SDSTrack) make."""
    if not cfg.MODEL.BACKBONE.CE_LOC:
        return None
    register_torch_six()
    from lib.train.data.processing_utils import transform_image_to_crop
    from lib.utils.ce_utils import generate_mask_cond

    box = torch.tensor(inputs["init_box"])
    size = torch.Tensor([cfg.TEST.TEMPLATE_SIZE] * 2)
    template_box = transform_image_to_crop(box, box, inputs["template_resize_factor"], size, normalize=True)
    return generate_mask_cond(cfg, 1, "cpu", template_box.view(1, 4))


def build_step(script: str, cfg, inputs: dict, load_weights):
    """As the official tracker: the template crop and its candidate-elimination mask made once, then per frame
    the network on (template, search)."""
    register_torch_six()
    from lib.models.ostrack import build_ostrack

    net = build_ostrack(cfg, training=False)
    load_weights(net)
    ce_mask = official_ce_mask(cfg, inputs)

    def step():
        return net.forward(template=inputs["template"], search=inputs["search"], ce_template_mask=ce_mask)

    return step
