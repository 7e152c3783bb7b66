"""LMDB packs: packing a folder and reading it back gives the same annotations and pixels as the folder."""
import os
import pickle

import numpy as np
import pytest

from lib.synthetic import generate
from lib.test.evaluation import get_dataset
from lib.train.dataset.catalog import build_train_dataset
from lib.utils.file_source import DirSource, LmdbSource, pack_folder_to_lmdb
from tests.data.fixture_writers import isolated_settings, write_frame, write_text

TINY = dict(num_sequences=2, num_frames=12, width=48, height=32)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    for benchmark in ("lasot", "got10k", "trackingnet", "coco"):
        sizes = dict(TINY, width=160, height=120) if benchmark == "coco" else TINY
        generate(benchmark, data / benchmark, seed=2, **sizes)
        pack_folder_to_lmdb(data / benchmark, data / f"{benchmark}_lmdb")
    return data


@pytest.mark.parametrize("name", ["LASOT", "GOT10K_train_full", "GOT10K_official_val", "TRACKINGNET", "COCO17"])
def test_train_readers_same_from_lmdb(packed, name):
    settings = isolated_settings(packed)
    plain = build_train_dataset(name, settings=settings, only_present=True)
    lmdb = build_train_dataset(name, settings=settings, only_present=True, use_lmdb=True)
    assert isinstance(lmdb.source, LmdbSource) and plain.sequence_list == lmdb.sequence_list
    for seq_id in range(plain.get_num_sequences()):
        a, b = plain.get_sequence_info(seq_id), lmdb.get_sequence_info(seq_id)
        assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
        frames_a, anno_a, meta_a = plain.get_frames(seq_id, [0, 0 if name == "COCO17" else 11])
        frames_b, anno_b, meta_b = lmdb.get_frames(seq_id, [0, 0 if name == "COCO17" else 11])
        assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b)) and meta_a == meta_b


def test_eval_lasot_lmdb(packed):
    settings = isolated_settings(packed)
    plain = get_dataset("lasot", only_present=True, settings=settings)
    packed_seqs = get_dataset("lasot_lmdb", only_present=True, settings=settings)
    assert plain.names() == packed_seqs.names()
    for a, b in zip(plain, packed_seqs):
        np.testing.assert_array_equal(a.ground_truth_rect, b.ground_truth_rect)
        np.testing.assert_array_equal(a.target_visible, b.target_visible)
        assert b.frames[0] == f"{a.name.rsplit('-', 1)[0]}/{a.name}/img/00000001.jpg"   # keys, not paths
        assert np.array_equal(a.read_frame(5), b.read_frame(5))
    # sequences go to worker processes by pickling: the LMDB handle must survive that
    clone = pickle.loads(pickle.dumps(packed_seqs[0]))
    assert np.array_equal(clone.read_frame(3), plain[0].read_frame(3))


def test_source_listing_and_lookup(tmp_path):
    write_text(tmp_path / "src" / "a" / "x.txt", "hello")
    write_text(tmp_path / "src" / "a" / "b" / "y.txt", "deep")
    write_text(tmp_path / "src" / "a-b.txt", "sibling")   # '-' sorts before '/': must not hide folder a
    write_frame(tmp_path / "src" / "c" / "0.jpg", 1)
    write_text(tmp_path / "src" / ".hidden", "skipped")
    assert pack_folder_to_lmdb(tmp_path / "src", tmp_path / "db") == 4
    db, folder = LmdbSource(tmp_path / "db"), DirSource(tmp_path / "src")
    assert db.list_dir("") == ["a", "a-b.txt", "c"] == [n for n in folder.list_dir("") if n != ".hidden"]
    assert db.list_dir("a") == ["b", "x.txt"] == folder.list_dir("a")
    assert db.sub("a").read_text("b/y.txt") == "deep" and db.is_dir("a/b") and not db.is_dir("a/x.txt")
    assert db.exists("a/x.txt") and not db.exists("a/nothing")
    assert db.load_image("c/0.jpg").shape == folder.load_image("c/0.jpg").shape
    with pytest.raises(FileNotFoundError, match="db::a/nothing: key not found"):
        db.read_bytes("a/nothing")
    with pytest.raises(FileNotFoundError, match="folder not found"):
        db.list_dir("zzz")
    with pytest.raises(FileExistsError):
        pack_folder_to_lmdb(tmp_path / "src", tmp_path / "db")


def test_lmdb_after_fork(tmp_path):
    """A pack opened before a fork (DataLoader workers) is re-opened in the child and still readable."""
    write_text(tmp_path / "src" / "f.txt", "payload")
    pack_folder_to_lmdb(tmp_path / "src", tmp_path / "db")
    db = LmdbSource(tmp_path / "db")
    assert db.read_text("f.txt") == "payload"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            ok = LmdbSource(tmp_path / "db").read_text("f.txt") == "payload" and db.read_text("f.txt") == "payload"
        except Exception:
            ok = False
        os.write(write_end, b"1" if ok else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read_end, 1) == b"1"
    assert db.read_text("f.txt") == "payload"


def test_a_failed_pack_leaves_nothing_and_is_one_error_line(tmp_path, monkeypatch, capsys):
    """A write the database cannot take (a full disk: lmdb.DiskError) removes the temporary pack and ends
    pack_lmdb.py in one error line naming --dst's folder; a temporary pack left by a killed run is cleared."""
    import importlib.util

    import lmdb

    from lib.utils.cli import run_main

    for name in ("a.txt", "b.txt", "c.txt"):
        write_text(tmp_path / "src" / name, name)
    (tmp_path / ".db.999999-x.tmp").mkdir()  # a killed run's

    class FullDisk:
        """An environment whose writes fail as on a full disk."""

        def __init__(self, *args, **kwargs):
            pass

        def begin(self, write=False):
            return self

        def put(self, key, value):
            raise lmdb.DiskError("mdb_put: No space left on device")

        def close(self):
            pass

    monkeypatch.setattr(lmdb, "open", FullDisk)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    monkeypatch.syspath_prepend(os.path.join(repo, "tracking"))
    spec = importlib.util.spec_from_file_location("pack_cli", os.path.join(repo, "tracking", "pack_lmdb.py"))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert run_main(cli.main, ["--src", str(tmp_path / "src"), "--dst", str(tmp_path / "db")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"cannot write {tmp_path / 'db'}" in lines[0] and "No space" in lines[0]
    assert sorted(os.listdir(tmp_path)) == ["src"]
