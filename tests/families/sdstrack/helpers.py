"""A tiny SDSTrack with weights drawn per state_dict entry from a seeded generator (independent of this codebase's
initialisation, so values computed once by the official code stay valid), and drawn 6-channel inputs."""
from __future__ import annotations

import torch

from lib.families import get_family, load_config
from lib.models.layers.candidate_elimination import template_token_mask


def drawn_tiny_model(seed: int = 7) -> torch.nn.Module:
    net = get_family("sdstrack").build_model(load_config("sdstrack", "tiny_rgbd"), False).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, value in net.state_dict().items():
            if not value.dtype.is_floating_point:
                continue
            noise = torch.randn(value.shape, generator=generator)
            if value.dim() > 1:
                value.copy_(noise * 0.3)
            elif name.endswith("running_var"):
                value.copy_(1 + 0.1 * noise.abs())
            elif "norm" in name.lower() and name.endswith("weight"):  # LayerNorm gains near 1
                value.copy_(1 + 0.1 * noise)
            else:
                value.copy_(0.02 * noise)
    return net


def drawn_inputs(seed: int = 11) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Template (2, 6, 64, 64), search (2, 6, 128, 128) and the CTR_POINT CE template mask."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(2, 6, 64, 64, generator=generator)
    x = torch.randn(2, 6, 128, 128, generator=generator)
    return z, x, template_token_mask("CTR_POINT", 64, 16, 2, torch.device("cpu"))
