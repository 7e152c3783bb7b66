"""MSTGT at test time (the official tracker is OSTrack's): one template crop for the whole sequence, a search crop
per frame, Hann-windowed score map. The spatio-temporal tokens live in the per-sequence state: None before the
first tracked frame (the network then starts them from the template tokens, the official frame_id <= 1 reset),
replaced by the network's output after every frame, with no confidence gating. What the network takes from the
template crop is computed once per sequence (the official step recomputes it every frame)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from lib.families.ostrack.tracker import OSTrackTracker
from lib.test.tracker.base import Crop, TrackState, split_batch


@dataclass
class MSTGTState(TrackState):
    prompt: torch.Tensor | None = None  # (1, 17, C) multi-scale prompt of the template crop
    template_tokens: torch.Tensor | None = None  # (1, L_t, C)
    stt: torch.Tensor | None = None  # (1, L_t, C) spatio-temporal tokens carried to the next frame


class MSTGTTracker(OSTrackTracker):
    State = MSTGTState

    def encode_template(self, template: Crop, info: dict) -> None:
        self.state.template = template
        self.state.prompt, self.state.template_tokens = self.net.backbone.encode_template(template.tensor)

    def search_tensors(self, search: Crop) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        return self.state.prompt, self.state.template_tokens, search.tensor, self.state.stt

    def forward_tensors(self, prompt: torch.Tensor, template_tokens: torch.Tensor, search: torch.Tensor,
                        stt: torch.Tensor | None) -> dict:
        return self.locate(self.net.track((prompt, template_tokens), search, stt))

    def forward_search(self, search: Crop) -> dict:
        out = self.forward_tensors(*self.search_tensors(search))
        self.state.stt = out["stt"]
        return out

    @classmethod
    def forward_search_batch(cls, trackers: list["MSTGTTracker"], searches: list[Crop]) -> list[dict]:
        # A first frame (no tokens yet) starts from its own template tokens: run such frames one by one.
        if any(t.state.stt is None for t in trackers):
            return [t.forward_search(s) for t, s in zip(trackers, searches)]
        out = trackers[0].forward_tensors(torch.cat([t.state.prompt for t in trackers]),
                                          torch.cat([t.state.template_tokens for t in trackers]),
                                          torch.cat([s.tensor for s in searches]),
                                          torch.cat([t.state.stt for t in trackers]))
        outs = split_batch(out, len(trackers))
        for tracker, single in zip(trackers, outs):
            tracker.state.stt = single["stt"]
        return outs
