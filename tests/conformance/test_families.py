"""Conformance: every registered family (and the test-only fixture family) against the shared contract.

Parametrised over what the families declare, so a new family with no tests of its own is checked as soon as it is
discovered:
  * every experiment file of every training script loads strictly;
  * every declared (script, config) -> official manifest (shared/reference/<file>.json): the model built on the
    meta device has the manifest's state_dict keys, shapes and dtypes in order, its parameter count (in total and
    per top-level module), and thop MACs of one tracking step within 0.1 % of the manifest's figure (of each
    named component, for a manifest with `thop_macs_per_component`);
  * with each script's declared tiny run: one training step through the real data pipeline (sampler, processing,
    transforms, loader, the family's data_options, actor and trainer hooks) on synthetic frames gives finite
    losses and moves the trainable weights only; one tracking step returns a box inside the frame, and two
    sequences tracked at once by swapping `tracker.state` give the same boxes as tracked apart;
    tracking/profile_model.py runs with --runs 1 --warmup 0.
Full-size models are only ever built on the meta device.
"""
from __future__ import annotations

import functools
import pathlib
from dataclasses import replace
import runpy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.fx.experimental import _config as fx_config

from lib import families
from lib.config.defaults import input_channels
from lib.families import Family, get_family, load_config
from lib.test.parameter import TrackerParams
from lib.test.tracker.base import clear_network_cache
from lib.train.data.loader import build_dataloaders
from lib.train.dataset.catalog import register_train_dataset
from lib.train.optim import build_optimizer, build_scheduler, default_param_groups
from lib.train.staging import apply_freeze
from lib.train.trainer import Trainer
from lib.utils.env import env_settings, register_path_field
from lib.utils.profiling import thop_macs, tracking_steps
from tests.conformance.synthetic import SyntheticVideos, render_frame, target_box
from tests.fixtures.manifests import reference_manifest as manifest
from tests.fixtures.twotemplate_family import FAMILY as FIXTURE

REPO = pathlib.Path(__file__).resolve().parents[2]
MACS_TOLERANCE = 1e-3

# The synthetic training data reaches the loader the way a plugin's dataset would: through the open catalogues.
register_path_field("conformance_synthetic_dir", "conformance_synthetic", side="train")
for _channels in (3, 6):
    register_train_dataset(f"CONFORMANCE_SYNTH{_channels}", "conformance_synthetic_dir",
                           SyntheticVideos.builder(_channels))


def every_family() -> dict[str, Family]:
    return {**families.discover(), FIXTURE.name: FIXTURE}


def _experiments(family: Family, script: str) -> list[pathlib.Path]:
    return sorted((pathlib.Path(family.experiments_root()) / script).glob("*.yaml"))


FAMILIES = sorted(every_family().values(), key=lambda f: f.name)
SCRIPTS = [(f, s) for f in FAMILIES for s in sorted(f.scripts)]
EXPERIMENTS = [(s, path.stem) for f, s in SCRIPTS for path in _experiments(f, s)]
MANIFESTS = [(s, c, m) for f in FAMILIES for (s, c), m in sorted(f.manifests.items())]
TRACKERS = [(f, t) for f in FAMILIES for t, s in sorted(f.trackers.items()) if s]


def _id(value) -> str:
    return value.name if isinstance(value, Family) else str(value)


@pytest.fixture(scope="module", autouse=True)
def fixture_family_registered():
    families.register(FIXTURE)
    yield
    families.unregister(FIXTURE.name)


# ------------------------------------------------------------------------------------------ declarations
@pytest.mark.parametrize("family,script", SCRIPTS, ids=_id)
def test_script_declares_what_the_suite_needs(family, script):
    assert family.build_actor is not None and family.build_tracker is not None and family.dummy_inputs is not None
    assert script in family.tiny, f"{family.name} declares no TinyRun for '{script}' in Family.tiny"
    assert _experiments(family, script), f"no experiment files for '{script}'"


@pytest.mark.parametrize("family", [f for f in FAMILIES if f.scripts], ids=_id)
def test_family_declares_its_benchmark_models(family):
    """tracking/benchmark_speed.py times the speed_models of every family by default: each names a tracker of
    the family and one of its script's experiment files."""
    assert family.speed_models, f"{family.name} declares no speed_models"
    for name, (tracker, config) in family.speed_models.items():
        script = family.trackers[tracker]
        assert (pathlib.Path(family.experiments_root()) / script / f"{config}.yaml").is_file(), name


def test_suite_covers_the_fixture_and_the_official_families():
    names = {f.name for f in FAMILIES}
    assert {"stark", "ostrack", FIXTURE.name} <= names
    assert {s for s, _, _ in MANIFESTS} >= {"stark_s", "stark_st2", "ostrack"}


@pytest.mark.parametrize("script,config", EXPERIMENTS)
def test_experiment_file_loads_strictly(script, config):
    cfg = load_config(script, config)
    assert cfg.is_frozen


# ------------------------------------------------------------------------------------------ official manifests
@functools.lru_cache(maxsize=None)
def meta_model(script: str, config: str):
    cfg = load_config(script, config)
    with torch.device("meta"):
        net = get_family(script).build_model(cfg, False)
    return cfg, net.eval()


@pytest.mark.parametrize("script,config,manifest_file", MANIFESTS)
def test_state_dict_matches_the_official_manifest(script, config, manifest_file):
    _, net = meta_model(script, config)
    reference = manifest(manifest_file)
    ours = [(k, list(v.shape), str(v.dtype).replace("torch.", "")) for k, v in net.state_dict().items()]
    assert ours == [(e["key"], e["shape"], e["dtype"]) for e in reference["state_dict"]]
    assert sum(p.numel() for p in net.parameters()) == reference["parameters"]
    per_module = {name: sum(p.numel() for p in child.parameters()) for name, child in net.named_children()}
    direct = sum(p.numel() for p in net.parameters(recurse=False))
    if direct:  # e.g. SeqTrack's decoder-memory position table
        per_module["(direct parameters of the root module)"] = direct
    assert per_module == reference["parameters_per_top_level_module"]


@pytest.mark.parametrize("script,config,manifest_file", MANIFESTS)
def test_tracking_step_macs_match_the_official_manifest(script, config, manifest_file):
    cfg, net = meta_model(script, config)
    # Boolean indexing (e.g. candidate elimination's selected template rows) has no meta shape; taking every
    # element as selected changes only matmuls that thop's module hooks do not count.
    with torch.no_grad(), fx_config.patch(meta_nonzero_assume_all_nonzero=True):
        steps = tracking_steps(net, get_family(script).dummy_inputs(cfg, torch.device("meta")))
        macs = [(step.name, thop_macs(step)) for step in steps]
    reference = manifest(manifest_file)
    if "thop_macs_per_component" in reference:
        # A routed model has no single tracking step: its steps are the manifest's components, by name.
        assert dict(macs) == pytest.approx(reference["thop_macs_per_component"], rel=MACS_TOLERANCE)
        assert len(macs) == len(reference["thop_macs_per_component"])
    else:
        assert sum(m for _, m in macs) == pytest.approx(reference["thop_macs_per_tracking_step"], rel=MACS_TOLERANCE)


# ------------------------------------------------------------------------------------------ tiny runs
def tiny_config(script: str, extra: tuple[str, ...] = ()):
    tiny = get_family(script).tiny[script]
    return load_config(script, tiny.config, list(tiny.opts) + list(extra))


@pytest.mark.parametrize("family,script", SCRIPTS, ids=_id)
def test_one_training_step_gives_finite_losses(family, script, tmp_path):
    torch.manual_seed(0)
    channels = input_channels(tiny_config(script).DATA)
    data = ["DATA.TRAIN.DATASETS_NAME", f"[CONFORMANCE_SYNTH{channels}]", "DATA.TRAIN.DATASETS_RATIO", "[1]",
            "DATA.TRAIN.SAMPLE_PER_EPOCH", "2", "DATA.VAL.DATASETS_NAME", "[]", "DATA.VAL.DATASETS_RATIO", "[]",
            "TRAIN.BATCH_SIZE", "2", "TRAIN.NUM_WORKER", "0"]
    cfg = tiny_config(script, tuple(data))
    settings = SimpleNamespace(use_lmdb=False, seed=0,
                               env=env_settings(local_loader=dict, conformance_synthetic_dir=str(tmp_path)))
    options = family.data_options(cfg, script) if family.data_options else {}
    loader, _ = build_dataloaders(cfg, settings, options, rank=0, world_size=1)
    batch = next(iter(loader))
    assert batch["search_images"].shape[2] == channels

    net = family.build_model(cfg, True)
    trainable = set(apply_freeze(net, list(cfg.TRAIN.FREEZE), list(cfg.TRAIN.TRAINABLE)))
    groups = family.param_groups(net, cfg) if family.param_groups else default_param_groups(net, cfg)
    optimizer = build_optimizer(groups, cfg)
    hooks = family.trainer_hooks(net, cfg, script) if family.trainer_hooks else ()
    trainer = Trainer(family.build_actor(net, cfg, script), loader, optimizer, build_scheduler(optimizer, cfg, 1),
                      checkpoint_dir=str(tmp_path), prefix=family.checkpoint_prefix(script), max_epochs=1,
                      device=torch.device("cpu"), grad_clip_norm=cfg.TRAIN.GRAD_CLIP_NORM, printer=lambda _: None,
                      hooks=hooks)
    trainer.actor.train(True)
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    stats = trainer.train_step(batch)
    assert stats and all(np.isfinite(v) for v in stats.values()), stats
    changed = {k for k, v in net.named_parameters() if not torch.equal(v.detach(), before[k])}
    assert changed and changed <= trainable


def sequence(channels: int, seed: int, length: int = 4) -> list[np.ndarray]:
    return [render_frame(f, channels, seed) for f in range(length)]


def _run(tracker, frames: list[np.ndarray]) -> list[list[float]]:
    tracker.initialize(frames[0], {"init_bbox": target_box(0)})
    return [tracker.track(frame)["target_bbox"] for frame in frames[1:]]


@pytest.mark.parametrize("family,tracker_name", TRACKERS, ids=_id)
def test_tracking_steps_stay_in_the_frame_and_sequences_interleave(family, tracker_name):
    torch.manual_seed(0)
    clear_network_cache()
    script = family.trackers[tracker_name]
    tiny = family.tiny[script]
    params = TrackerParams.create(tracker_name, tiny.config, load_weights=False, opts=list(tiny.opts))
    channels = input_channels(params.cfg.DATA)
    first, second = sequence(channels, seed=1), sequence(channels, seed=2)
    apart = [_run(family.build_tracker(params), frames) for frames in (first, second)]
    height, width = first[0].shape[:2]
    for box in apart[0] + apart[1]:
        x, y, w, h = box
        assert len(box) == 4 and all(np.isfinite(box)) and w > 0 and h > 0
        assert 0 <= x and 0 <= y and x + w <= width and y + h <= height, box

    # One tracker, two sequences at once: its state is swapped between frames.
    tracker = family.build_tracker(params)
    states, together = [], [[], []]
    for frames in (first, second):
        tracker.initialize(frames[0], {"init_bbox": target_box(0)})
        states.append(tracker.state)
    for index in range(1, len(first)):
        for k, frames in enumerate((first, second)):
            tracker.state = states[k]
            together[k].append(tracker.track(frames[index])["target_bbox"])
    assert together == apart
    clear_network_cache()


@pytest.mark.parametrize("family,script", SCRIPTS, ids=_id)
def test_profile_model_runs_on_the_tiny_config(family, script, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "tracking"))
    cli = runpy.run_path(str(REPO / "tracking" / "profile_model.py"), run_name="profile_cli")
    tiny = family.tiny[script]
    argv = ["--script", script, "--config", tiny.config, "--device", "cpu", "--runs", "1", "--warmup", "0"]
    assert cli["main"](argv + (["--opts", *tiny.opts] if tiny.opts else [])) == 0
    printed = capsys.readouterr().out
    assert "parameters" in printed and "MACs (thop)" in printed and "over 1 runs after 0 warm-up" in printed


# ------------------------------------------------------------------------------------------ the training worker
def test_the_training_worker_wires_hooks_and_init_renames(tmp_path, monkeypatch):
    """Through lib/train/run_training.py itself: the family's trainer hook adds its loss term, and TRAIN.INIT_FROM
    goes through the family's adapt_state_dict (an official-style file with renamed keys starts the run)."""
    from lib.train import run_training

    monkeypatch.setenv("TRACKZOO_CONFORMANCE_SYNTHETIC_DIR", str(tmp_path))
    monkeypatch.setenv("TRACKZOO_WORKSPACE_DIR", str(tmp_path / "workspace"))  # TensorBoard goes there
    data = ["DATA.TRAIN.DATASETS_NAME", "[CONFORMANCE_SYNTH6]", "DATA.TRAIN.DATASETS_RATIO", "[1]",
            "DATA.TRAIN.SAMPLE_PER_EPOCH", "4", "TRAIN.PRINT_INTERVAL", "1"]
    script = next(iter(FIXTURE.scripts))
    base = ["--script", script, "--config", "tiny", "--device", "cpu"]
    assert run_training.main([*base, "--save_dir", str(tmp_path / "a"), "--opts", *data]) == 0
    log = (tmp_path / "a" / "logs" / f"{script}-tiny.log").read_text()
    assert "Loss/head_decay" in log  # the hook's term reached the logged statistics
    assert list((tmp_path / "workspace" / "tensorboard" / "train" / script / "tiny").glob("events.out.tfevents.*"))

    prefix = FIXTURE.checkpoint_prefix(script)
    trained = torch.load(tmp_path / "a" / "checkpoints" / "train" / script / "tiny" / f"{prefix}_ep0001.pth.tar",
                         weights_only=True)["net"]
    official = {k.replace("box_head.", "official_head."): v for k, v in trained.items()}
    torch.save({"net": official}, tmp_path / "official.pth")
    renaming = replace(FIXTURE, adapt_state_dict=lambda sd: {k.replace("official_head.", "box_head."): v
                                                              for k, v in sd.items()})
    families.register(renaming)
    try:  # LR 0: the saved parameters are the initial ones
        assert run_training.main([*base, "--save_dir", str(tmp_path / "b"), "--opts", *data, "TRAIN.LR", "0",
                                  "TRAIN.INIT_FROM", str(tmp_path / "official.pth")]) == 0
    finally:
        families.register(FIXTURE)
    started = torch.load(tmp_path / "b" / "checkpoints" / "train" / script / "tiny" / f"{prefix}_ep0001.pth.tar",
                         weights_only=True)["net"]
    head = [k for k in trained if k.startswith("box_head.") and "running_" not in k and "num_batches" not in k]
    assert head and all(torch.equal(started[k], trained[k]) for k in head)  # BatchNorm statistics still move
