"""The official SeqTrack tracking step (microsoft/VideoX, folder SeqTrack), for `benchmark_speed.py --reference`.

Loaded by path into tracking/speed_reference_worker.py, which runs with the official repository as `lib`: so this
file imports only torch, numpy (for the official tracker's own window expression) and the official code, never
TrackZoo modules.

One blocker is patched here, in this process only (the checkout is never edited): `lib/models/seqtrack/encoder.py`
builds the ViT with `pretrained=is_main_process()`, true outside distributed training, which downloads the MAE
ImageNet weights; the benchmark loads its own weights over them, so the encoder module's `is_main_process` is
replaced by `lambda: False` (no download, no network access needed).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch


def build_step(script: str, cfg: Any, inputs: dict[str, torch.Tensor],
               load_weights: Callable[[torch.nn.Module], None]) -> Callable[[], dict[str, torch.Tensor]]:
    """As the official tracker (lib/test/tracker/seqtrack.py): the first frame's template crop in every one of the
    TEST.NUM_TEMPLATES slots, the [START] sequence (bins + 1, int64) and, with TEST.WINDOW, the float64
    `np.hanning(bins)` row made once; then per frame the encoder on templates + [search] and the greedy decoder
    with that sequence, window and DATA.SEQ_FORMAT. Returns its pred_boxes (tokens) and confidence, the names
    ours returns. The tracker's `.cuda()` calls are left out: the comparison runs on the CPU."""
    import lib.models.seqtrack.encoder as encoder

    encoder.is_main_process = lambda: False
    from lib.models.seqtrack import build_seqtrack

    net = build_seqtrack(cfg)
    load_weights(net)
    template, search = inputs["template"], inputs["search"]
    templates = [template] * cfg.TEST.NUM_TEMPLATES
    bins = cfg.MODEL.BINS
    start = (torch.ones([template.shape[0], 1]).to(template) * (bins + 1)).type(dtype=torch.int64)
    window = torch.tensor(np.hanning(bins)).unsqueeze(0) if cfg.TEST.WINDOW else None
    seq_format = cfg.DATA.SEQ_FORMAT

    def step():
        xz = net.forward_encoder(templates + [search])
        return net.inference_decoder(xz=xz, sequence=start, window=window, seq_format=seq_format)

    return step
