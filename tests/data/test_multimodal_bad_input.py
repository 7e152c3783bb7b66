"""Bad multi-modal data (a missing modality folder, frame counts that disagree) ends in one `error:` line that names
the file or folder to fix, for the evaluation and the training readers."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lib.test.evaluation import get_dataset
from lib.train.dataset.catalog import build_train_dataset
from lib.utils.cli import UserError, run_main
from tests.data.fixture_writers import (isolated_settings, write_rgbd_sequence, write_rgbe_sequence,
                                        write_rgbt_sequence, write_text)

GT3 = "1,1,8,8\n1,1,8,8\n1,1,8,8\n"


def _rgbd(data: Path) -> Path:
    seq = data / "depthtrack" / "test" / "box01_indoor"
    write_rgbd_sequence(seq, GT3)
    return seq


def _rgbt(data: Path) -> Path:
    seq = data / "lasher" / "testingset" / "leftgirl'swhitebag"
    write_rgbt_sequence(seq, GT3, GT3, ["v000.jpg", "v001.jpg", "v002.jpg"], ["i000.jpg", "i001.jpg", "i002.jpg"])
    return seq


def _rgbe(data: Path) -> Path:
    seq = data / "visevent" / "test" / "video_0004"
    write_rgbe_sequence(seq, GT3, "1\n1\n1\n", ["a.bmp", "b.bmp", "c.bmp"])
    return seq


def _error_line(capsys, data: Path, dataset: str) -> str:
    def main(argv):
        get_dataset(dataset, settings=isolated_settings(data))
        return 0

    assert run_main(main, []) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    return err


# dataset, writer, damage(seq folder) -> the path the message must name
CASES = {
    "missing depth folder": ("depthtrack", _rgbd, lambda s: (shutil.rmtree(s / "depth"), s / "depth")[1]),
    "missing infrared folder": ("lasher", _rgbt, lambda s: (shutil.rmtree(s / "infrared"), s / "infrared")[1]),
    "missing event folder": ("visevent", _rgbe, lambda s: (shutil.rmtree(s / "event_imgs"), s / "event_imgs")[1]),
    "ground truth longer than the frames": (
        "depthtrack", _rgbd, lambda s: (write_text(s / "groundtruth.txt", GT3 + "1,1,8,8\n"), s / "groundtruth.txt")[1]),
    "an infrared frame missing": ("lasher", _rgbt, lambda s: ((s / "infrared" / "i002.jpg").unlink(), s)[1]),
    "a depth frame missing": ("depthtrack", _rgbd, lambda s: ((s / "depth" / "00000002.png").unlink(), s)[1]),
    "event names differ": ("visevent", _rgbe,
                           lambda s: ((s / "event_imgs" / "c.bmp").rename(s / "event_imgs" / "d.bmp"),
                                      s / "event_imgs")[1]),
    "absent_label.txt too short": ("visevent", _rgbe,
                                   lambda s: (write_text(s / "absent_label.txt", "1\n1\n"), s / "absent_label.txt")[1]),
    "absent_label.txt missing": ("visevent", _rgbe,
                                 lambda s: ((s / "absent_label.txt").unlink(), s / "absent_label.txt")[1]),
    "infrared.txt too short": ("lasher", _rgbt,
                               lambda s: (write_text(s / "infrared.txt", "1,1,8,8\n"), s / "infrared.txt")[1]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_evaluation_reader_names_the_bad_file(tmp_path, capsys, case):
    dataset, write, damage = CASES[case]
    named = damage(write(tmp_path))
    assert str(named) in _error_line(capsys, tmp_path, dataset)


def test_a_sequence_missing_from_the_vot_list_is_named(tmp_path, capsys):
    root = tmp_path / "vot_rgbd2022"
    write_rgbd_sequence(root / "bag_outside", GT3)
    write_text(root / "list.txt", "bag_outside\nbicycle_outside\n")
    assert "bicycle_outside" in _error_line(capsys, tmp_path, "vot_rgbd2022")


@pytest.mark.parametrize("name, folder, damage", [
    ("DepthTrack_train", "depthtrack/train", lambda s: (shutil.rmtree(s / "depth"), s / "depth")[1]),
    ("LasHeR_train", "lasher/trainingset",
     lambda s: (write_text(s / "visible.txt", "1,1,8,8\n"), s / "visible.txt")[1]),
])
def test_training_reader_names_the_bad_file(tmp_path, name, folder, damage):
    seq = tmp_path / folder / "seq1"
    if name == "DepthTrack_train":
        write_rgbd_sequence(seq, GT3)
    else:
        write_rgbt_sequence(seq, GT3, None, ["v000.jpg", "v001.jpg", "v002.jpg"], ["i000.jpg", "i001.jpg", "i002.jpg"])
    named = damage(seq)
    dataset = build_train_dataset(name, settings=isolated_settings(tmp_path))
    with pytest.raises(UserError, match=str(named).replace("\\", "\\\\")):
        dataset.get_sequence_info(0)


def test_a_training_list_naming_a_missing_sequence_is_an_error(tmp_path):
    root = tmp_path / "visevent" / "train"
    write_rgbe_sequence(root / "video_0001", GT3, "1\n1\n1\n", ["a.bmp", "b.bmp", "c.bmp"])
    write_text(root / "trainlist.txt", "video_0001\nvideo_0002\n")
    with pytest.raises(UserError, match=r"trainlist.txt: 1 of 2 listed sequences are missing: video_0002"):
        build_train_dataset("VisEvent", settings=isolated_settings(tmp_path))
