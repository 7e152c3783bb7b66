"""SeqTrack at test time (the official tracker): two templates (the first frame's, kept, and the latest), a search
crop per frame, four greedy decoding steps with a Hann window on the centre tokens (TEST.WINDOW), the tokens read
back as the box; a new template every TEST.UPDATE_INTERVALS[dataset] frames when 10 x the sum of the four token
probabilities exceeds TEST.UPDATE_THRESHOLD[dataset].
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from lib.config.node import CfgNode, ConfigError
from lib.families.seqtrack.actor import tokens_to_cxcywh
from lib.families.seqtrack.model import hann_window
from lib.test.parameter import TrackerParams
from lib.test.tracker.base import Crop, NetworkTracker, TrackState


def per_dataset(table: CfgNode, dataset_name: str):
    """table[<DATASET NAME>], else table.DEFAULT (the official lookup)."""
    name = dataset_name.upper()
    return table[name] if name in table else table.DEFAULT


@dataclass
class SeqTrackState(TrackState):
    # [first frame's, latest] templates, as the encoder's patch tokens (embedded once per template)
    template_tokens: list[torch.Tensor] = field(default_factory=list)


class SeqTrackTracker(NetworkTracker):
    State = SeqTrackState

    def __init__(self, params: TrackerParams, net: nn.Module | None = None):
        super().__init__(params, net)
        cfg = params.cfg
        self.bins = cfg.MODEL.BINS
        self.seq_format = cfg.DATA.SEQ_FORMAT
        self.num_templates = cfg.TEST.NUM_TEMPLATES
        if self.num_templates != cfg.DATA.TEMPLATE.NUMBER:
            raise ConfigError(f"TEST.NUM_TEMPLATES ({self.num_templates}) must equal DATA.TEMPLATE.NUMBER "
                             f"({cfg.DATA.TEMPLATE.NUMBER}), the templates the encoder was built for")
        self.window = hann_window(self.bins, params.device) if cfg.TEST.WINDOW else None
        self.update_interval = per_dataset(cfg.TEST.UPDATE_INTERVALS, params.dataset_name)
        self.update_threshold = per_dataset(cfg.TEST.UPDATE_THRESHOLD, params.dataset_name)

    def encode_template(self, template: Crop, info: dict) -> None:
        self.state.template = template
        self.state.template_tokens = [self.embed_template(template)] * self.num_templates

    def embed_template(self, template: Crop) -> torch.Tensor:
        return self.net.encoder.body.template_tokens(template.tensor)

    def forward_search(self, search: Crop) -> dict[str, torch.Tensor]:
        xz = self.net.forward_encoder([search.tensor], search_only=True,
                                      template_tokens=torch.cat(self.state.template_tokens, dim=2))
        start = torch.full((1, 1), self.bins + 1, dtype=torch.long, device=search.tensor.device)
        return self.net.inference_decoder(xz, start, window=self.window, seq_format=self.seq_format)

    def decode_box(self, out: dict[str, torch.Tensor], search: Crop) -> tuple[torch.Tensor, dict]:
        box = tokens_to_cxcywh(out["pred_boxes"].view(-1, 4), self.bins, self.seq_format).mean(dim=0)
        return box, {"conf_score": 10 * out["confidence"].sum().item()}

    def update_templates(self, image: np.ndarray, out: dict, extras: dict) -> None:
        if self.num_templates < 2 or self.state.frame_id % self.update_interval \
                or extras["conf_score"] <= self.update_threshold:
            return
        crop = self.crop(image, self.state.box, self.params.template_factor, self.params.template_size)
        tokens = self.state.template_tokens
        self.state.template_tokens = tokens[:1] + tokens[2:] + [self.embed_template(crop)]


def build_tracker(params: TrackerParams) -> SeqTrackTracker:
    return SeqTrackTracker(params)
