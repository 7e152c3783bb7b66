"""SeqTrack against values the official code (microsoft/VideoX SeqTrack, lib/models/seqtrack) computed once.

The official classes were built at the tiny config's sizes (ViT 64 wide, 4 blocks, 2 heads; template 64, search
128; decoder 64 wide, 4 heads, FFN 128, 2 layers; 4000 bins), loaded with the weights drawn below and run on the
inputs drawn below. The weights are drawn per state_dict entry from a seeded generator, so the pinned values do
not depend on this codebase's initialisation. (At full size, B256 with shared random weights: encoder max |diff|
2.9e-6 on outputs up to 5.2, decoder logits 2.0e-7, identical tokens, confidences 5.8e-11; B384: 3.0e-6, 1.9e-7,
identical tokens, 2.9e-11; with and without the key/value cache.)
"""
from __future__ import annotations

import pytest
import torch

from lib.families.seqtrack.model import hann_window
from tests.families.seqtrack.helpers import drawn_tiny_model

WINDOWED = True
# Printed by the official code (see the module docstring).
OFFICIAL_ENCODER_SUM = 224.30300784985593
OFFICIAL_ENCODER_ABS_SUM = 9838.27686842937
# logits[0, :, :, :3] of the teacher-forced decoder on the drawn sequence, flattened
OFFICIAL_LOGITS_SAMPLE = [
    -16.399974822998047, 5.0673418045043945, -0.7934808135032654, -13.466876983642578, 2.985616445541382,
    3.185896873474121, -15.611984252929688, 8.602912902832031, -4.850852966308594, -5.193111419677734,
    5.258573055267334, -4.108675956726074, -13.342411041259766, 7.575038909912109, -1.0694987773895264,
    -14.390174865722656, 7.105156421661377, 0.5519629120826721, -11.017473220825195, 5.254159450531006,
    4.317445278167725, -13.878477096557617, 6.332907199859619, 3.1657583713531494, -19.326221466064453,
    9.555682182312012, 3.033278465270996, -14.119549751281738, 7.065427780151367, 1.4474940299987793]
OFFICIAL_TOKENS = [[1862, 1862, 1862, 1862], [2251, 1621, 297, 3720]]
OFFICIAL_CONFIDENCE = [[0.8105750048425739, 0.699203176754773, 0.5538290739059448, 0.3296922445297241],
                       [0.0740253908202198, 0.20575506901217402, 0.8863912224769592, 0.4393979609012604]]


def drawn_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(11)
    z1, z2 = (torch.randn(2, 3, 64, 64, generator=generator) for _ in range(2))
    x = torch.randn(2, 3, 128, 128, generator=generator)
    seq = torch.randint(0, 4002, (2, 5), generator=generator)
    return z1, z2, x, seq


@pytest.fixture(scope="module")
def encoded():
    net = drawn_tiny_model()
    z1, z2, x, seq = drawn_inputs()
    with torch.no_grad():
        xz = net.forward_encoder([z1, z2, x])
    return net, xz, seq


def test_encoder_features_equal_the_official_ones(encoded):
    _, xz, _ = encoded
    assert xz[0].shape == (2, 64 + 2 * 16, 64)
    assert xz[0].double().sum().item() == pytest.approx(OFFICIAL_ENCODER_SUM, rel=1e-5)
    assert xz[0].double().abs().sum().item() == pytest.approx(OFFICIAL_ENCODER_ABS_SUM, rel=1e-6)


def test_teacher_forced_logits_equal_the_official_ones(encoded):
    net, xz, seq = encoded
    with torch.no_grad():
        logits = net.forward_decoder(xz, seq)
    assert logits.shape == (1, 2, 5, 4002)
    sample = logits[0, :, :, :3].reshape(-1)
    torch.testing.assert_close(sample, torch.tensor(OFFICIAL_LOGITS_SAMPLE), atol=2e-3, rtol=1e-4)


@pytest.mark.parametrize("use_cache", [False, True])
def test_greedy_tokens_and_confidences_equal_the_official_ones(encoded, use_cache):
    net, xz, _ = encoded
    start = torch.full((2, 1), 4001, dtype=torch.long)
    with torch.no_grad():
        out = net.inference_decoder(xz, start, window=hann_window(4000) if WINDOWED else None, use_cache=use_cache)
    assert out["pred_boxes"].tolist() == OFFICIAL_TOKENS
    torch.testing.assert_close(out["confidence"], torch.tensor(OFFICIAL_CONFIDENCE, dtype=torch.float64),
                               rtol=1e-4, atol=1e-6)
