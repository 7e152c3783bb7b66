"""tracking/video_demo.py, the official demos' command line: boxes equal to test.py's run of the same frames, a video
file or a folder of frames as input, the annotated video, one error line per mistake, nothing half-written."""
import os
import runpy

import cv2
import numpy as np
import pytest

from lib.test.evaluation.tracker import Tracker
from lib.test.tracker.speed import build_bench_tracker
from lib.utils.cli import run_main
from tests.speed.test_batched import moving_square_sequence

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAMES = 8


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(REPO, "tracking"))
    return runpy.run_path(os.path.join(REPO, "tracking", "video_demo.py"), run_name="video_demo")["main"]


@pytest.fixture
def sequence():
    return moving_square_sequence("square", FRAMES, 0)


@pytest.fixture
def frame_folder(tmp_path, sequence):
    folder = tmp_path / "square"
    folder.mkdir()
    for index in range(FRAMES):  # PNG: the frames come back as they were
        cv2.imwrite(str(folder / f"{index:05d}.png"), cv2.cvtColor(sequence.read_frame(index), cv2.COLOR_RGB2BGR))
    return folder


def count_frames(path) -> int:
    capture, count = cv2.VideoCapture(str(path)), 0
    while capture.read()[0]:
        count += 1
    return count


def box_args(sequence) -> list[str]:
    return ["--optional_box", *(f"{v:g}" for v in sequence.ground_truth_rect[0])]


def test_boxes_equal_the_test_run_of_the_same_frames(demo, sequence, frame_folder, tmp_path, capsys):
    weights = str(tmp_path / "weights.pth.tar")
    build_bench_tracker("stark_s", "tiny", weights)
    argv = ["stark_s", "tiny", str(frame_folder), *box_args(sequence), "--checkpoint", weights, "--device", "cpu",
            "--results_dir", str(tmp_path / "res"), "--save_results", "--save_video", str(tmp_path / "out.avi"),
            "--no_progress"]
    assert run_main(demo, argv) == 0
    assert capsys.readouterr().out.startswith(f"{FRAMES} frames, ")
    boxes = np.loadtxt(tmp_path / "res" / "stark_s" / "tiny" / "video_square.txt", delimiter="\t")
    times = np.loadtxt(tmp_path / "res" / "stark_s" / "tiny" / "video_square_time.txt")
    assert times.shape == (FRAMES,) and (times > 0).all()
    expected = Tracker("stark_s", "tiny", results_path=str(tmp_path / "r2"), checkpoint=weights,
                       device="cpu").run_sequence(sequence)["target_bbox"]
    np.testing.assert_allclose(boxes, expected, atol=1e-4)
    assert np.abs(boxes[-1] - boxes[0]).max() > 1  # the network tracked, the box moved
    assert count_frames(tmp_path / "out.avi") == FRAMES
    assert sorted(os.listdir(tmp_path)) == ["out.avi", "res", "square", "weights.pth.tar"]  # no partial file


def test_reads_a_video_file(demo, sequence, frame_folder, tmp_path, capsys):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (128, 96))
    for file in sorted(os.listdir(frame_folder)):
        writer.write(cv2.imread(str(frame_folder / file)))
    writer.release()
    argv = ["hold", "default", str(video), *box_args(sequence), "--results_dir", str(tmp_path / "res"),
            "--save_results", "--no_progress"]
    assert run_main(demo, argv) == 0
    boxes = np.loadtxt(tmp_path / "res" / "hold" / "default" / "video_clip.txt", delimiter="\t")
    assert boxes.shape == (FRAMES, 4) and (boxes == sequence.ground_truth_rect[0]).all()


def test_a_failure_midway_leaves_no_video_or_results(demo, sequence, frame_folder, tmp_path, monkeypatch):
    from lib.families.hold import tracker as hold

    calls = []

    def failing_track(self, image, info):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("tracker failed")
        return {"target_bbox": info["previous_output"]["target_bbox"]}

    monkeypatch.setattr(hold.HoldTracker, "track", failing_track)
    argv = ["hold", "default", str(frame_folder), *box_args(sequence), "--results_dir", str(tmp_path / "res"),
            "--save_results", "--save_video", str(tmp_path / "out" / "demo.mp4"), "--no_progress"]
    with pytest.raises(RuntimeError, match="tracker failed"):
        run_main(demo, argv)
    assert os.listdir(tmp_path / "out") == [] and not (tmp_path / "res").exists()


@pytest.mark.parametrize("change, needles", [
    (lambda a: a[:3] + ["--no_progress"], ["--optional_box", "X Y W H"]),
    (lambda a: a[:3] + ["--optional_box", "1", "2", "0", "4"], ["--optional_box", "W, H > 0"]),
    (lambda a: a[:3] + ["--optional_box", "500", "2", "10", "10"], ["--optional_box 500 2 10 10", "outside",
                                                                     "128 x 96"]),
    (lambda a: a[:2] + ["/nonexistent/clip.mp4"] + a[3:], ["videofile /nonexistent/clip.mp4"]),
    (lambda a: a[:2] + [os.path.join(REPO, "README.md")] + a[3:], ["README.md", "OpenCV cannot read a frame"]),
    (lambda a: a + ["--save_video", "out.gif"], ["--save_video out.gif", ".mp4 or .avi"]),
    (lambda a: ["holdd"] + a[1:], ["holdd"]),
])
def test_mistakes_end_in_one_error_line(change, needles, demo, sequence, frame_folder, tmp_path, capsys):
    argv = ["hold", "default", str(frame_folder), *box_args(sequence), "--results_dir", str(tmp_path / "res"),
            "--save_results"]
    assert run_main(demo, change(argv)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not (tmp_path / "res").exists()


def test_a_multi_modal_tracker_is_refused_before_any_frame(demo, sequence, frame_folder, tmp_path, capsys):
    weights = str(tmp_path / "weights.pth.tar")
    build_bench_tracker("sdstrack", "tiny_rgbd", weights)
    argv = ["sdstrack", "tiny_rgbd", str(frame_folder), *box_args(sequence), "--checkpoint", weights,
            "--device", "cpu", "--results_dir", str(tmp_path / "res"), "--save_results", "--no_progress"]
    assert run_main(demo, argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "takes 6-channel frames" in lines[0] and "RGB videos only" in lines[0]
