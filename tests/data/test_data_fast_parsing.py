"""Fast loading of evaluation benchmarks: the integer-scan parsers give exactly what the slow readers give, and
frame lists formatted on demand behave like the path lists they replace."""
import pickle
import re

import numpy as np
import pytest

from lib.test.evaluation import Sequence, get_dataset
from lib.utils.annotations import AnnotationError, parse_boxes, parse_flags
from lib.utils.file_source import DirSource, FrameList, LmdbSource
from lib.utils.numeric_text import parse_int_list, parse_numeric_text, parse_table
from tests.data.fixture_writers import isolated_settings, write_frame, write_text


def _reference_boxes(text: str, delimiter) -> np.ndarray:
    """Python's float() on every token of every non-blank line (independent of numpy's parsers)."""
    split = (lambda line: re.split(r"[,\s]+", line.strip())) if delimiter is None else \
        (lambda line: line.strip().split(delimiter))
    return np.array([[float(t) for t in split(line)] for line in text.splitlines() if line.strip()])


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


# ------------------------------------------------------------------------------------------ numeric tables

@pytest.mark.parametrize("delimiter", [",", "\t", None])
@pytest.mark.parametrize("fmt", ["%d", "%.1f", "%.4f", "%r"])
def test_fast_boxes_are_bit_identical_to_float(delimiter, fmt):
    rng = np.random.default_rng(3)
    values = rng.uniform(-500, 900, (300, 4))
    values[rng.random(values.shape) < 0.05] = 0.0
    values[0, 0] = -0.0   # '-0' / '-0.0' keep their sign, as float() does
    if fmt == "%r":
        values = values.round(3)  # repr: shortest form, so the number of decimals varies per field
    sep = delimiter or ","
    text = "\n".join(sep.join(repr(float(v)) if fmt == "%r" else fmt % v for v in row) for row in values)
    for ending in ("", "\n", "\r\n"):
        raw = text.replace("\n", ending) + ending if ending == "\r\n" else text + ending
        fast = parse_table(raw.encode(), 4, delimiter)
        assert fast is not None, "the usual formats must take the fast path"
        expected = _reference_boxes(raw, delimiter)
        assert _same_bits(fast, expected) and _same_bits(parse_boxes(raw, "f", delimiter), expected)


@pytest.mark.parametrize("text, delimiter", [
    ("1,2,3,4\nnan,nan,nan,nan\n", ","),     # NaN rows (UAV123)
    ("1, 2, 3, 4\n5, 6, 7, 8\n", ","),        # spaces
    ("1,2,3,4\n\n5,6,7,8\n", ","),            # blank line
    ("1 2 3 4\n5,6\t7 8\n", None),            # OTB's mixed separators
    ("1e2\t2\t3\t4\n", "\t"),                 # exponent
    ("1.5,2,3.25,4\n", ","),                  # fields with and without a point
])
def test_unusual_but_valid_text_takes_the_exact_path(text, delimiter):
    assert parse_table(text.encode(), 4, delimiter) is None
    np.testing.assert_array_equal(parse_boxes(text, "f", delimiter, allow_nan=True),
                                  _reference_boxes(text, delimiter))


@pytest.mark.parametrize("text, delimiter", [
    ("1\t2\t3\t4\n", ","),        # TABs where commas are the format
    ("1,2,3,4\n", "\t"),          # commas where TABs are the format
    ("1,2,3\n4,5,6,7,8\n", ","),  # ragged lines with the right total
    ("1,2,,4\n", ","),
    ("1,2,3,4,\n", ","),
    ("1.2.3,4,5,6\n", ","),
    ("1,2,3,-\n", ","),          # a lone sign, which numpy's integer scan would read as 0
    ("1,2,- 3,4\n", None),
    ("1.0,2.0,3.0,.+7\n", ","),  # a sign after the point, which would vanish with the point
])
def test_fast_path_refuses_what_the_format_does_not_allow(text, delimiter):
    assert parse_table(text.encode(), 4, delimiter) is None
    with pytest.raises(AnnotationError):
        parse_boxes(text, "f", delimiter)


@pytest.mark.parametrize("text", [b"1\t2\t3\t-\n", b"1.0\t2.0\t3.0\t-.\n", b"1.0,2.0,3.0,.+7\n"])
def test_result_files_with_misplaced_signs_are_errors(text):
    with pytest.raises(ValueError, match="res.txt: expected 4 numbers per line"):
        parse_numeric_text(text, 4, "res.txt")


def test_error_in_a_long_file_names_the_line():
    rows = ["%d,%d,%d,%d" % (k, k + 1, 10, 20) for k in range(2500)]
    rows[1233] = "5,6,x,8"
    with pytest.raises(AnnotationError, match=r"gt.txt, line 1234: 'x' is not a number"):
        parse_boxes("\n".join(rows) + "\n", "gt.txt")
    rows[1233] = "5,6,7"
    with pytest.raises(AnnotationError, match=r"gt.txt, line 1234: expected 4 values separated by commas, got 3"):
        parse_boxes("\n".join(rows) + "\n", "gt.txt")


# ------------------------------------------------------------------------------------------ integer labels

def _reference_flags(text: str) -> list[int]:
    return [int(t) for t in re.split(r"[,\s]+", text.strip()) if t]


@pytest.mark.parametrize("text", [
    "0,0,1,1,0\n",                 # LaSOT: one comma line
    "1\n1\n0\n1\n",                # GOT-10k absence.label
    "0\r\n8\r\n3\r\n",             # cover.label with CRLF
    "12,0,-3,+4\n7\n",             # several digits and signs
    "0, 1,,2\t3\n",                # separator runs
])
def test_flags_match_int_of_each_token(text):
    fast = parse_int_list(text.encode())
    assert fast is not None and fast.dtype == np.int64 and fast.tolist() == _reference_flags(text)
    assert parse_flags(text, "f").tolist() == _reference_flags(text)


@pytest.mark.parametrize("text", ["", "0,1,x\n", "1.0,0\n", "0,-,1\n", "0 - 1\n", "0,+\n"])
def test_flags_fast_path_declines_what_int_refuses(text):
    assert parse_int_list(text.encode()) is None
    with pytest.raises(AnnotationError):
        parse_flags(text, "f")


def test_flags_fast_path_declines_rare_valid_forms():
    """int() accepts these; numpy's scan would misread them (underscore, int64 overflow)."""
    assert parse_int_list(b"1_0,2\n") is None and parse_flags("1_0,2\n", "f").tolist() == [10, 2]
    assert parse_int_list(b"99999999999999999999\n") is None


def test_bad_flag_names_the_line():
    with pytest.raises(AnnotationError, match=r"labels.txt, line 3: '1.0' is not an integer"):
        parse_flags("0\n1\n1.0\n0\n", "labels.txt")
    with pytest.raises(AnnotationError, match=r"labels.txt: empty label file"):
        parse_flags(" \n", "labels.txt")


# ------------------------------------------------------------------------------------------ frame lists

@pytest.mark.parametrize("source", [DirSource("/data/lasot"), DirSource("/data/lasot/"), DirSource("rel"),
                                    LmdbSource("/packs/lasot.lmdb"), LmdbSource("/packs/x.lmdb", prefix="lasot")])
def test_numbered_frames_equal_frame_ref_of_each_file(source):
    frames = source.numbered_frames("cat/cat-1/img", "%08d.jpg", range(1, 8))
    assert list(frames) == [source.frame_ref(f"cat/cat-1/img/{k:08d}.jpg") for k in range(1, 8)]
    assert source.frame_refs("cat/cat-1/img", ["3.jpg"]) == [source.frame_ref("cat/cat-1/img/3.jpg")]


def test_frame_list_behaves_like_a_list():
    frames = FrameList("/r/seq/", "%05d.png", range(3, 13))
    eager = [f"/r/seq/{k:05d}.png" for k in range(3, 13)]
    assert len(frames) == 10 and frames[0] == eager[0] and frames[-1] == eager[-1] and frames[4] == eager[4]
    assert frames[np.int64(2)] == eager[2]
    for piece in (slice(2, None), slice(None, -3), slice(1, 9, 3), slice(None, None, -1)):
        assert isinstance(frames[piece], FrameList) and list(frames[piece]) == eager[piece]
    assert frames == eager and eager == frames and frames != eager[1:] and frames == FrameList("/r/seq/", "%05d.png",
                                                                                                  range(3, 13))
    assert eager[5] in frames and frames.index(eager[5]) == 5
    with pytest.raises(IndexError):
        frames[10]
    assert list(pickle.loads(pickle.dumps(frames))) == eager


def test_sequence_keeps_a_frame_list_and_cuts_it_at_the_init_frame():
    frames = FrameList("/r/", "%d.jpg", range(1, 6))
    seq = Sequence("s", frames, "lasot", np.arange(20.0).reshape(5, 4), init_data={2: {"bbox": [1, 2, 3, 4]}})
    assert isinstance(seq.frames, FrameList) and list(seq.frames) == ["/r/3.jpg", "/r/4.jpg", "/r/5.jpg"]
    assert len(seq) == 3 and pickle.loads(pickle.dumps(seq)).frames == seq.frames


def test_lasot_reader_lists_no_frame_folder(tmp_path, monkeypatch):
    """The official layout fixes the frame files from the ground truth: loading lists no frame folder (a directory
    listing per sequence is what made loading slow) and touches no frame file; only the class folders are listed
    to find the sequences."""
    seq = tmp_path / "lasot" / "cat" / "cat-1"
    for k in (1, 30):
        write_frame(seq / "img" / f"{k:08d}.jpg", k)
    write_text(seq / "groundtruth.txt", "".join(f"{k},{k},10,12\n" for k in range(30)))
    write_text(seq / "full_occlusion.txt", ",".join(["0"] * 30) + "\n")
    write_text(seq / "out_of_view.txt", ",".join(["0"] * 29 + ["1"]) + "\n")

    listed, real_list_dir, real_exists = [], DirSource.list_dir, DirSource.exists

    def list_dir(self, rel):
        listed.append(rel)
        return real_list_dir(self, rel)

    def exists(self, rel):
        assert not rel.endswith(".jpg"), f"checked frame {rel}"
        return real_exists(self, rel)

    monkeypatch.setattr(DirSource, "list_dir", list_dir)
    monkeypatch.setattr(DirSource, "exists", exists)
    (s,) = get_dataset("lasot", only_present=True, settings=isolated_settings(tmp_path))
    assert isinstance(s.frames, FrameList) and len(s.frames) == 30
    assert s.frames[-1] == str(seq / "img" / "00000030.jpg")
    assert s.target_visible.tolist() == [True] * 29 + [False] and s.ground_truth_rect[29].tolist() == [29, 29, 10, 12]
    assert listed == ["", "cat"]
    assert s.read_frame(29).shape == (12, 16, 3)
