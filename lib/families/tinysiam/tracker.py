"""TinySiam at test time: OSTrack's decoding (Hann-windowed centre map, optional steadying) on a correlation
whose template kernel is computed once per sequence.

With TEST.SCALE_STEP > 0 the size comes from a search over scales instead of the size head (SiamFC, Bertinetto
et al. 2016): the search crop is cut at 1 / (1 + step), 1 and 1 + step times the search area, the crop whose
windowed peak (times TEST.SCALE_PENALTY off scale 1) is highest gives the position, and the box takes the share
TEST.SIZE_RATE of that scale change.

With TEST.PIXEL_WEIGHT > 0 the score map blends in that share of a pixel-level match: the correlation coefficient
of the template's target box, its pixels as the kernel, with each window of the search crop (OpenCV's
TM_CCOEFF_NORMED on the crop), its best value in each cell. Fine texture and colour that the stride-8 features
blur tell the target apart there; the learned map keeps the track through appearance change (hand-crafted beside
learned features, as in C-COT and ECO).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from lib.families.ostrack.tracker import OSTrackTracker
from lib.families.tinysiam.model import match_template
from lib.test.tracker.base import Crop, TrackState, split_batch


@dataclass
class TinySiamState(TrackState):
    kernel: torch.Tensor | None = None  # the template's centre features, (1, C, k, k)
    scale: float = 1.0  # the scale the last frame's search picked (TEST.SCALE_STEP > 0)
    pixel_kernel: torch.Tensor | None = None  # the template's target box, (1, 3, kh, kw) (TEST.PIXEL_WEIGHT > 0)


class TinySiamTracker(OSTrackTracker):
    State = TinySiamState

    def encode_template(self, template: Crop, info: dict) -> None:
        self.state.kernel = self.net.template_kernel(template.tensor)
        if self.params.cfg.TEST.PIXEL_WEIGHT:
            self.state.pixel_kernel = self.target_pixels(template)

    def target_pixels(self, template: Crop) -> torch.Tensor:
        """The template crop's centre box of the target's size, odd sides (the pixel-level kernel)."""
        size = template.tensor.shape[-1]
        largest = size if size % 2 else size - 1
        w, h = (min(largest, max(3, int(round(side * template.resize_factor)) | 1)) for side in self.state.box[2:])
        x, y = (size - w) // 2, (size - h) // 2
        return template.tensor[..., y:y + h, x:x + w]

    def search_tensors(self, search: Crop) -> tuple[torch.Tensor, torch.Tensor]:
        return self.state.kernel, search.tensor

    def forward_tensors(self, kernel: torch.Tensor, search: torch.Tensor) -> dict:
        out = self.net.track(kernel, search)
        return self.locate({**out, "score_map": self.blend_pixels(out["score_map"], search)})

    def blend_pixels(self, score_map: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        """score_map (B, 1, n, n) with the share TEST.PIXEL_WEIGHT of the pixel-level match of this sequence's
        target in search (B, 3, H, W), its best non-negative value in each cell."""
        weight = self.params.cfg.TEST.PIXEL_WEIGHT
        if not weight:
            return score_map
        match = F.max_pool2d(match_template(search, self.state.pixel_kernel), search.shape[-1] // score_map.shape[-1])
        return (1 - weight) * score_map + weight * match.clamp(min=0)

    @classmethod
    def forward_search_batch(cls, trackers: list["TinySiamTracker"], searches: list[Crop]) -> list[dict]:
        lead = trackers[0]
        out = lead.net.track(torch.cat([t.state.kernel for t in trackers]), torch.cat([s.tensor for s in searches]))
        scores = [t.blend_pixels(out["score_map"][i:i + 1], s.tensor)
                  for i, (t, s) in enumerate(zip(trackers, searches))]
        return split_batch(lead.locate({**out, "score_map": torch.cat(scores)}), len(trackers))

    def unbatchable_setting(self) -> str | None:
        if self.params.cfg.TEST.SCALE_STEP:
            return (f"TinySiam's scale search (TEST.SCALE_STEP = {self.params.cfg.TEST.SCALE_STEP}) cuts three search "
                    f"crops a frame, which the batched forward does not; set TEST.SCALE_STEP 0 to batch")
        return None

    def track(self, image: np.ndarray, info: dict | None = None) -> dict:
        test = self.params.cfg.TEST
        if not test.SCALE_STEP:
            return super().track(image, info)
        scales = (1 / (1 + test.SCALE_STEP), 1.0, 1 + test.SCALE_STEP)
        box = self.next_search(image).box
        crops = [self.crop(image, box, self.params.search_factor * s, self.params.search_size) for s in scales]
        with torch.inference_mode():
            out = self.forward_tensors(self.state.kernel.expand(len(crops), -1, -1, -1),
                                       torch.cat([c.tensor for c in crops]))
            peaks = out["peak_score"].flatten() * out["peak_score"].new_tensor([test.SCALE_PENALTY, 1.0,
                                                                                 test.SCALE_PENALTY])
            best = int(peaks.argmax())
            self.state.scale = scales[best]
            return self.finish_frame(image, crops[best], split_batch(out, len(crops))[best])

    def next_state_box(self, whole: list[float], clipped: list[float], height: int, width: int) -> list[float]:
        """The whole box, its centre kept in the frame: clipping it would shrink the size the scale search
        carries whenever the target is partly out of view (the reported box is still clipped)."""
        if not self.params.cfg.TEST.SCALE_STEP:
            return list(clipped)
        x, y, w, h = whole
        cx, cy = min(max(x + w / 2, 0.0), width), min(max(y + h / 2, 0.0), height)
        return [cx - w / 2, cy - h / 2, w, h]

    def decode_box(self, out: dict, search: Crop) -> tuple[torch.Tensor, dict]:
        test = self.params.cfg.TEST
        if not test.SCALE_STEP:
            return super().decode_box(out, search)
        # The size the scale search found, through OSTrack's steadying (SIZE_RATE of the change, MIN_SCORE).
        box = out["peak_box"].view(-1, 4)[0]
        found = box.new_tensor(self.state.box[2:]) * self.state.scale * search.resize_factor / self.params.search_size
        return self.steady_box(torch.cat([box[:2], found]), float(out["peak_score"].max()), search), {}
