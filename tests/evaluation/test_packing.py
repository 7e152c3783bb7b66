"""GOT-10k / TrackingNet submission packing: pack, read the zip back, compare; raw results stay untouched."""
import io
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from lib.test.analysis.packing import got10k_main, pack_got10k, pack_trackingnet, trackingnet_main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_results(root, tag, names, config="cfg", n=6, float_boxes=False, seed=0):
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "trk", config, tag)
    os.makedirs(folder, exist_ok=True)
    data = {}
    for name in names:
        boxes = rng.uniform(0, 300, (n, 4))
        boxes = boxes.round(2) if float_boxes else boxes.astype(int).astype(float)
        times = rng.uniform(0.01, 0.05, n)
        np.savetxt(os.path.join(folder, f"{name}.txt"), boxes, fmt="%.2f" if float_boxes else "%d", delimiter="\t")
        np.savetxt(os.path.join(folder, f"{name}_time.txt"), times, fmt="%f")
        data[name] = (boxes, times.round(6))
    np.savetxt(os.path.join(folder, f"{names[0]}_all_boxes.txt"), np.zeros((n, 8)), fmt="%.2f")  # side file
    return folder, data


def snapshot(folder):
    return {f: open(os.path.join(folder, f), "rb").read() for f in sorted(os.listdir(folder))}


def read_zip_table(zf, name):
    return np.loadtxt(io.StringIO(zf.read(name).decode()), delimiter=",", ndmin=2)


def test_got10k_round_trip_single_run(tmp_path):
    names = ["GOT-10k_Test_000001", "GOT-10k_Test_000002"]
    folder, data = make_results(str(tmp_path), "got10k", names, float_boxes=True)
    before = snapshot(folder)
    zip_path = str(tmp_path / "trk" / "cfg" / "got10k_submit.zip")
    assert pack_got10k([folder], zip_path) == names
    with zipfile.ZipFile(zip_path) as zf:
        assert sorted(zf.namelist()) == sorted(f"{s}/{s}_{kind}.txt" for s in names for kind in ("001", "time"))
        for s in names:
            np.testing.assert_allclose(read_zip_table(zf, f"{s}/{s}_001.txt"), data[s][0], atol=1e-9)
            np.testing.assert_allclose(read_zip_table(zf, f"{s}/{s}_time.txt")[:, 0], data[s][1], atol=1e-9)
            assert "\t" not in zf.read(f"{s}/{s}_001.txt").decode()
    assert snapshot(folder) == before  # raw results kept byte for byte
    assert [f for f in os.listdir(os.path.dirname(zip_path)) if f.endswith(".tmp")] == []


def test_got10k_runs_become_repetitions(tmp_path):
    names = ["GOT-10k_Test_000007"]
    folders, datas = [], []
    for run in range(3):
        folder, data = make_results(str(tmp_path), "got10k", names, config=f"cfg_{run:03d}", seed=run)
        folders.append(folder)
        datas.append(data)
    rc = got10k_main(["--tracker_name", "trk", "--cfg_name", "cfg", "--runs", "0", "1", "2",
                      "--results_dir", str(tmp_path)])
    assert rc == 0
    zip_path = tmp_path / "trk" / "cfg" / "got10k_submit.zip"
    with zipfile.ZipFile(zip_path) as zf:
        s = names[0]
        for run in range(3):
            table = read_zip_table(zf, f"{s}/{s}_{run + 1:03d}.txt")
            np.testing.assert_array_equal(table, datas[run][s][0])
            assert zf.read(f"{s}/{s}_{run + 1:03d}.txt").decode().split("\n")[0].count(".") == 0  # ints stay ints
        times = read_zip_table(zf, f"{s}/{s}_time.txt")
        np.testing.assert_allclose(times, np.stack([d[s][1] for d in datas], axis=1), atol=1e-9)


def test_got10k_runs_with_different_sequences_fail(tmp_path):
    a, _ = make_results(str(tmp_path), "got10k", ["s1", "s2"], config="cfg_000")
    b, _ = make_results(str(tmp_path), "got10k", ["s1"], config="cfg_001")
    with pytest.raises(ValueError, match="s2"):
        pack_got10k([a, b], str(tmp_path / "out.zip"))
    assert not (tmp_path / "out.zip").exists()


def test_trackingnet_round_trip_flat_layout(tmp_path):
    names = ["-3TIfnTSM6c_2", "a1qoB1eERn0_0"]
    folder, data = make_results(str(tmp_path), "trackingnet", names, float_boxes=True)
    before = snapshot(folder)
    assert trackingnet_main(["--tracker_name", "trk", "--cfg_name", "cfg", "--results_dir", str(tmp_path)]) == 0
    with zipfile.ZipFile(tmp_path / "trk" / "cfg" / "trackingnet_submit.zip") as zf:
        assert sorted(zf.namelist()) == sorted(f"{s}.txt" for s in names)
        for s in names:
            np.testing.assert_allclose(read_zip_table(zf, f"{s}.txt"), data[s][0], atol=1e-9)
    assert snapshot(folder) == before


def test_existing_zip_replaced_atomically(tmp_path):
    folder, _ = make_results(str(tmp_path), "trackingnet", ["seq_a"])
    zip_path = str(tmp_path / "sub.zip")
    with open(zip_path, "w") as f:
        f.write("old")
    pack_trackingnet(folder, zip_path)
    assert zipfile.is_zipfile(zip_path)


def test_missing_results_folder_is_a_clear_error(tmp_path, capsys):
    assert got10k_main(["--tracker_name", "trk", "--cfg_name", "none", "--results_dir", str(tmp_path)]) == 1
    assert "no results folder" in capsys.readouterr().err


@pytest.mark.parametrize("tag", ["got10k", "trackingnet"])
def test_scripts_run_by_path(tmp_path, tag):
    folder, _ = make_results(str(tmp_path), tag, ["seq_0001"])
    before = snapshot(folder)
    subprocess.run([sys.executable, os.path.join(REPO, "lib", "test", "utils", f"transform_{tag}.py"),
                    "--tracker_name", "trk", "--cfg_name", "cfg", "--results_dir", str(tmp_path)],
                   check=True, cwd=str(tmp_path), capture_output=True)
    assert zipfile.is_zipfile(tmp_path / "trk" / "cfg" / f"{tag}_submit.zip")
    assert snapshot(folder) == before
