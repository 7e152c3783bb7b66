"""A tiny SeqTrack with weights drawn per state_dict entry from a seeded generator (independent of this codebase's
initialisation, so values computed once by the official code stay valid)."""
from __future__ import annotations

import torch

from lib.families import get_family, load_config


def drawn_tiny_model(seed: int = 7) -> torch.nn.Module:
    net = get_family("seqtrack").build_model(load_config("seqtrack", "tiny"), False).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, value in net.state_dict().items():
            noise = torch.randn(value.shape, generator=generator)
            if value.dim() > 1:
                value.copy_(noise * 0.3)
            elif "norm" in name.lower() and name.endswith("weight"):  # LayerNorm gains near 1
                value.copy_(1 + 0.1 * noise)
            else:
                value.copy_(0.02 * noise)
    return net
