"""Fixtures for the OSTrack tests: the tiny config and model, and an independent reference forward pass.

The reference is written from the published description of the official forward (per sample, explicit
attention matrices, Python loops for candidate elimination and token restoring, functional conv/BN head) and
reads only a state dict, so it shares no code with lib/.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from lib.families import get_family, load_config


@pytest.fixture
def tiny_cfg():
    return load_config("ostrack", "tiny")


def randomise_batch_norm_(net: torch.nn.Module) -> None:
    """Non-trivial running statistics, so the eval-mode head is not an identity normalisation."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


def sharpen_attention_(net: torch.nn.Module, gain: float = 8.0) -> None:
    """Freshly initialised attention is nearly uniform, so candidate scores would tie within float noise and
    the kept set would depend on summation order; larger q/k weights give well-separated scores."""
    with torch.no_grad():
        for block in net.backbone.blocks:
            dim = block.attn.qkv.in_features
            block.attn.qkv.weight[:2 * dim] *= gain


@pytest.fixture
def tiny_net(tiny_cfg):
    torch.manual_seed(0)
    net = get_family("ostrack").build_model(tiny_cfg, False)
    randomise_batch_norm_(net)
    sharpen_attention_(net)
    return net.eval()


def _layer_norm(x, sd, prefix):
    return F.layer_norm(x, (x.shape[-1],), sd[prefix + ".weight"], sd[prefix + ".bias"], eps=1e-6)


def _linear(x, sd, prefix):
    return x @ sd[prefix + ".weight"].T + sd[prefix + ".bias"]


def _reference_sample(sd, z_tokens, x_tokens, depth, heads, ce_keep, template_rows, keep_rate):
    """One sample: returns the restored (L_s, C) search tokens and the removed grid indices per CE layer."""
    num_t, num_s = z_tokens.shape[0], x_tokens.shape[0]
    tokens = torch.cat([z_tokens, x_tokens])
    grid_index = list(range(num_s))
    removed = []
    for i in range(depth):
        p = f"backbone.blocks.{i}"
        h = _layer_norm(tokens, sd, p + ".norm1")
        qkv = _linear(h, sd, p + ".attn.qkv")
        length, dim = h.shape
        hd = dim // heads
        q, k, v = (qkv[:, j * dim:(j + 1) * dim].reshape(length, heads, hd).transpose(0, 1) for j in range(3))
        attn = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd), dim=-1)
        mixed = (attn @ v).transpose(0, 1).reshape(length, dim)
        tokens = tokens + _linear(mixed, sd, p + ".attn.proj")
        ratio = ce_keep.get(i, 1.0)
        if ratio < 1 and (keep_rate is None or keep_rate < 1):
            ratio = ratio if keep_rate is None else keep_rate
            current = len(grid_index)
            n_keep = math.ceil(ratio * current)
            if n_keep < current:
                rows = template_rows if template_rows is not None else list(range(num_t))
                score = attn[:, rows, num_t:].mean(dim=1).mean(dim=0)
                order = sorted(range(current), key=lambda j: -float(score[j]))
                keep, drop = order[:n_keep], order[n_keep:]
                removed.append(sorted(grid_index[j] for j in drop))
                grid_index = [grid_index[j] for j in keep]
                tokens = torch.cat([tokens[:num_t], tokens[num_t:][keep]])
        h = _layer_norm(tokens, sd, p + ".norm2")
        tokens = tokens + _linear(F.gelu(_linear(h, sd, p + ".mlp.fc1")), sd, p + ".mlp.fc2")
    tokens = _layer_norm(tokens, sd, "backbone.norm")
    search = torch.zeros(num_s, tokens.shape[1])
    for j, g in enumerate(grid_index):
        search[g] = tokens[num_t + j]
    return search, removed


def _reference_tower(sd, fmap, name):
    for i in range(1, 5):
        p = f"box_head.conv{i}_{name}"
        fmap = F.conv2d(fmap, sd[p + ".0.weight"], sd[p + ".0.bias"], padding=1)
        fmap = F.batch_norm(fmap, sd[p + ".1.running_mean"], sd[p + ".1.running_var"], sd[p + ".1.weight"],
                            sd[p + ".1.bias"], training=False, eps=1e-5)
        fmap = fmap.clamp(min=0)
    return F.conv2d(fmap, sd[f"box_head.conv5_{name}.weight"], sd[f"box_head.conv5_{name}.bias"])


def reference_box(score, size, offset):
    """Box at the arg-max cell of a (n, n) score map: ((x + off_x) / n, (y + off_y) / n, w, h)."""
    n = score.shape[-1]
    y, x = divmod(int(score.flatten().argmax()), n)
    return torch.tensor([(x + float(offset[0, y, x])) / n, (y + float(offset[1, y, x])) / n,
                         float(size[0, y, x]), float(size[1, y, x])])


def reference_forward(sd, z, x, depth, heads, ce_loc, ce_keep_ratio, template_rows=None, keep_rate=None,
                      patch=16):
    """The whole network for a batch: dict of score/size/offset maps, boxes, features and removed indices."""
    ce_keep = dict(zip(ce_loc, ce_keep_ratio))
    embed = lambda img: F.conv2d(img, sd["backbone.patch_embed.proj.weight"], sd["backbone.patch_embed.proj.bias"],
                                 stride=patch).flatten(2).transpose(1, 2)
    z_tokens = embed(z) + sd["backbone.pos_embed_z"]
    x_tokens = embed(x) + sd["backbone.pos_embed_x"]
    n = int(math.isqrt(x_tokens.shape[1]))
    out = {"score_map": [], "size_map": [], "offset_map": [], "box": [], "search_feat": [], "removed": []}
    for b in range(z.shape[0]):
        search, removed = _reference_sample(sd, z_tokens[b], x_tokens[b], depth, heads, ce_keep, template_rows,
                                            keep_rate)
        fmap = search.T.reshape(1, -1, n, n)
        squash = lambda t: torch.sigmoid(t).clamp(1e-4, 1 - 1e-4)
        score = squash(_reference_tower(sd, fmap, "ctr"))[0]
        size = squash(_reference_tower(sd, fmap, "size"))[0]
        offset = _reference_tower(sd, fmap, "offset")[0]
        for key, value in (("score_map", score), ("size_map", size), ("offset_map", offset),
                           ("box", reference_box(score[0], size, offset)), ("search_feat", search),
                           ("removed", removed)):
            out[key].append(value)
    return {k: v if k == "removed" else torch.stack(v) for k, v in out.items()}


@pytest.fixture
def reference():
    return SimpleNamespace(forward=reference_forward, box=reference_box,
                           randomise_batch_norm=randomise_batch_norm_)
