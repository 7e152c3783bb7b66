"""external/vot without the VOT toolkit: sequence conversion, workspace files, the server's tracker session."""
import configparser
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from external.vot.report import summarize
from external.vot.sequences import anchors, synthetic_depth, visible_frames, write_sequences
from external.vot.server import VotSession, parse_channels
from lib.test.evaluation.data import Sequence
from lib.utils.cli import UserError
from lib.utils.image_io import imread_rgb

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def vot_module(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True)


def make_sequence(tmp_path, boxes, visible=None, name="seq-1"):
    import cv2

    frames = []
    for i, box in enumerate(boxes):
        image = np.full((48, 64, 3), 40 + 10 * i, np.uint8)
        path = tmp_path / "src" / f"{i:04d}.png"
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(path), image)
        frames.append(str(path))
    return Sequence(name, frames, "test", np.array(boxes, float), None if visible is None else np.array(visible))


def test_anchors_are_spaced_on_visible_frames_forward_then_backward():
    visible = np.ones(120, bool)
    visible[50:55] = False
    values = anchors(visible, 50)
    assert {i: v for i, v in enumerate(values) if v} == {0: 1, 55: 1, 100: -1}


def test_visible_frames_combine_flags_and_box_validity(tmp_path):
    seq = make_sequence(tmp_path, [[1, 2, 10, 10], [1, 2, 0, 10], [np.nan] * 4, [1, 2, 10, 10]],
                        visible=[True, True, True, False])
    assert visible_frames(seq).tolist() == [True, False, False, False]


def test_written_sequence_has_the_vot_layout(tmp_path):
    seq = make_sequence(tmp_path, [[4, 5, 20, 10], [6, 5, 20, 10], [7, 5, 20, 10]], visible=[True, False, True])
    lengths = write_sequences([seq], tmp_path / "sequences", ("color", "depth", "ir"), anchor_spacing=2)
    folder = tmp_path / "sequences" / "seq-1"
    assert lengths == [3]
    assert (tmp_path / "sequences" / "list.txt").read_text() == "seq-1\n"
    meta = dict(line.split("=", 1) for line in (folder / "sequence").read_text().splitlines())
    assert meta["channels.color"] == "color/%08d.jpg" and meta["channels.depth"] == "depth/%08d.png"
    assert (meta["length"], meta["width"], meta["height"]) == ("3", "64", "48")
    assert (folder / "groundtruth.txt").read_text().splitlines() == [
        "4.0000,5.0000,20.0000,10.0000", "nan,nan,nan,nan", "7.0000,5.0000,20.0000,10.0000"]
    assert (folder / "occlusion.tag").read_text().split() == ["0", "1", "0"]
    assert (folder / "anchor.value").read_text().split() == ["1", "0", "-1"]
    assert imread_rgb(folder / "color" / "00000003.jpg").shape == (48, 64, 3)
    import cv2

    depth = cv2.imread(str(folder / "depth" / "00000001.png"), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth[6, 10] < depth[0, 0]  # the target is nearer than the background
    assert (folder / "ir" / "00000002.jpg").exists()


def test_frames_past_a_first_row_only_ground_truth_are_unknown(tmp_path):
    seq = make_sequence(tmp_path, [[4, 5, 20, 10]] * 3)
    seq.ground_truth_rect = seq.ground_truth_rect[:1]  # a test split: the first box only
    write_sequences([seq], tmp_path / "sequences")
    folder = tmp_path / "sequences" / "seq-1"
    assert (folder / "groundtruth.txt").read_text().splitlines()[1:] == ["nan,nan,nan,nan"] * 2
    assert (folder / "anchor.value").read_text().split() == ["1", "0", "0"]


def test_synthetic_depth_marks_the_box_near():
    depth = synthetic_depth((20, 30), [5, 4, 6, 3])
    assert depth[4:7, 5:11].max() == depth[4:7, 5:11].min() < depth[0, 0]
    assert synthetic_depth((20, 30), None).min() > depth[5, 6]


def test_channels_must_include_colour_and_be_known():
    assert parse_channels("color,depth") == ("color", "depth")
    for bad in ("depth", "color,thermal", "color,color"):
        with pytest.raises(UserError, match="--channels"):
            parse_channels(bad)


class ScoringTracker:
    """Moves the box 1 px right per frame and reports a falling score; records what it was given."""

    def __init__(self):
        self.infos = []

    def initialize(self, image, info):
        self.box, self.score = list(info["init_bbox"]), 1.0
        self.infos.append((image.shape, info))

    def track(self, image, info):
        self.infos.append((image.shape, info))
        self.box[0] += 1
        self.score /= 2
        return {"target_bbox": list(self.box), "conf_score": self.score}


def test_session_passes_channels_and_reports_the_tracker_confidence(tmp_path):
    seq = make_sequence(tmp_path, [[4, 5, 20, 10]] * 3)
    write_sequences([seq], tmp_path / "s", ("color", "depth"))
    folder = tmp_path / "s" / "seq-1"
    paths = [{"color": str(folder / "color" / f"{i:08d}.jpg"), "depth": str(folder / "depth" / f"{i:08d}.png")}
             for i in (1, 2, 3)]
    tracker = ScoringTracker()
    session = VotSession(tracker, ("color", "depth"))
    first = session.initialize(paths[0], (4.0, 5.0, 20.0, 10.0))
    replies = [session.track(p) for p in paths[1:]]
    assert first.box == [4.0, 5.0, 20.0, 10.0] and first.confidence == 1.0
    assert [r.box[0] for r in replies] == [5.0, 6.0] and [r.confidence for r in replies] == [0.5, 0.25]
    shape, info = tracker.infos[1]
    assert shape == (48, 64, 3) and info["channels"]["depth"].dtype == np.uint16
    assert info["previous_output"] == {"target_bbox": [4.0, 5.0, 20.0, 10.0]}
    assert tracker.infos[2][1]["previous_output"] == {"target_bbox": [5.0, 5.0, 20.0, 10.0], "conf_score": 0.5}


def test_session_with_the_hold_baseline_reports_full_confidence(tmp_path):
    from lib.families.hold.tracker import HoldTracker
    from lib.test.parameter import TrackerParams

    seq = make_sequence(tmp_path, [[4, 5, 20, 10]] * 2)
    write_sequences([seq], tmp_path / "s")
    color = [str(tmp_path / "s" / "seq-1" / "color" / f"{i:08d}.jpg") for i in (1, 2)]
    session = VotSession(HoldTracker(TrackerParams.create("hold", "default")), ("color",))
    session.initialize({"color": color[0]}, (4, 5, 20, 10))
    reply = session.track({"color": color[1]})
    assert reply.box == [4.0, 5.0, 20.0, 10.0] and reply.confidence == 1.0


def test_session_refuses_a_request_without_a_declared_channel(tmp_path):
    session = VotSession(ScoringTracker(), ("color", "depth"))
    with pytest.raises(ValueError, match="depth"):
        session.initialize({"color": "x.jpg"}, (0, 0, 1, 1))


def test_create_and_add_write_config_stack_and_trackers_ini(tmp_path):
    ws = tmp_path / "ws"
    out = vot_module("external.vot.workspace", "create", str(ws), "--synthetic", "--num_sequences", "2",
                     "--num_frames", "30", "--width", "96", "--height", "64", "--channels", "color,depth")
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load((ws / "config.yaml").read_text()) == {"registry": ["./trackers.ini"],
                                                                 "stack": "stack.yaml", "sequences": "sequences"}
    stack = yaml.safe_load((ws / "stack.yaml").read_text())
    assert stack["experiments"]["baseline"]["type"] == "multistart"
    eao = stack["experiments"]["baseline"]["analyses"][0]
    assert (eao["type"], eao["high"]) == ("multistart_eao_score", 30) and 0 < eao["low"] < 30
    assert len((ws / "sequences" / "list.txt").read_text().split()) == 2

    out = vot_module("external.vot.workspace", "add", str(ws), "--tracker", "opencv", "--param", "mil",
                     "--name", "mil", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    ini = configparser.ConfigParser()
    ini.read(ws / "trackers.ini")
    entry = ini["mil"]
    assert entry["protocol"] == "traxpython" and entry["python"] == sys.executable and entry["paths"] == REPO
    assert entry["command"] == ("from external.vot.server import run; run(['--tracker', 'opencv', '--param', "
                                "'mil', '--channels', 'color,depth', '--device', 'cpu'])")


def test_workspace_mistakes_end_in_one_error_line(tmp_path):
    (tmp_path / "ws").mkdir()
    cases = [(["create", str(tmp_path / "ws")], "--stack"),
             (["add", str(tmp_path / "ws"), "--tracker", "hold", "--param", "default"], "config.yaml")]
    for args, needle in cases:
        out = vot_module("external.vot.workspace", *args)
        assert out.returncode == 2 and out.stderr.startswith("error:") and needle in out.stderr, out.stderr
        assert "Traceback" not in out.stderr


def test_server_rejects_an_unknown_tracker_with_one_error_line():
    out = vot_module("external.vot.server", "--tracker", "nope", "--param", "x")
    assert out.returncode == 2 and out.stderr.startswith("error: unknown tracker 'nope'"), out.stderr


def test_summary_reads_scalars_per_tracker_by_analysis_type():
    analyses = [{"type": "vot.analysis.multistart.EAOScore"}, {"type": "vot.analysis.multistart.EAOCurve"},
                {"type": "vot.analysis.longterm.PrecisionRecall"}]
    report = {"trackers": {"a": {}, "b": {}}, "results": {"x": {
        "parameters": {"analyses": analyses},
        "results": [[[0.3], [0.4]], [[[0, 1]], [[0, 1]]], [[0.5, 0.6, 0.55], [0.1, 0.2, 0.15]]]}}}
    assert summarize(report) == {"a": {"x.eao": 0.3, "x.precision": 0.5, "x.recall": 0.6, "x.f_score": 0.55},
                                 "b": {"x.eao": 0.4, "x.precision": 0.1, "x.recall": 0.2, "x.f_score": 0.15}}
