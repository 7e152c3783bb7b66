"""Official sequence tables, checked against values transcribed by hand from the benchmark documentation
(shared research notes eval_datasets.md, Appendix A for UAV123)."""
from collections import Counter

from lib.test.evaluation.benchmark_tables import (lasot_classes, lasot_extension_names, lasot_test_names,
                                                  nfs_table, otb_table, uav_table)
from lib.train.dataset.lasot import lasot_train_split


def test_lasot_lists():
    test = lasot_test_names()
    assert len(test) == 280 and len(set(test)) == 280
    assert test[:5] == ("airplane-1", "airplane-9", "airplane-13", "airplane-15", "basketball-1")
    assert len(lasot_classes()) == 70 and "rubicCube" in lasot_classes()
    assert set(Counter(n.rsplit("-", 1)[0] for n in test).values()) == {4}
    train = lasot_train_split()
    assert len(train) == 1120 and not set(train) & set(test)
    assert set(train) | set(test) == {f"{c}-{k}" for c in lasot_classes() for k in range(1, 21)}


def test_lasot_extension_list():
    names = lasot_extension_names()
    assert len(names) == 150 and names[0] == "atv-1" and names[-1] == "wingsuit-10"
    assert len({n.rsplit("-", 1)[0] for n in names}) == 15


def test_uav_table_appendix_a():
    table = {e.name: e for e in uav_table()}
    assert len(table) == 123
    expected = {"bike1": ("bike1", 1, 3085), "bird1_2": ("bird1", 775, 1477), "bird1_3": ("bird1", 1573, 2437),
                "car1_1": ("car1", 1, 751), "car1_2": ("car1", 751, 1627), "uav1_2": ("uav1", 1555, 2377),
                "uav1_3": ("uav1", 2473, 3469), "group3_4": ("group3", 4369, 5527),
                "wakeboard9": ("wakeboard9", 1, 355)}
    for name, (folder, start, end) in expected.items():
        e = table[name]
        assert (e.frames_dir, e.start_frame, e.end_frame) == (f"data_seq/UAV123/{folder}", start, end)
        assert e.anno_path == f"anno/UAV123/{name}.txt" and e.digits == 6
    assert table["bird1_2"].frame_file(775) == "data_seq/UAV123/bird1/000775.jpg"


def test_otb_table_quirks():
    table = {e.name: e for e in otb_table()}
    assert len(table) == 100
    assert (table["David"].start_frame, table["David"].end_frame) == (300, 770)
    assert (table["BlurCar1"].start_frame, table["BlurCar1"].end_frame) == (247, 988)
    assert table["Board"].frame_file(7) == "Board/img/00007.jpg"
    assert table["KiteSurf"].frame_file(3) == "KiteSurf/jpg/0003.png"
    assert table["Tiger1"].init_omit == 5
    assert table["Jogging_2"].anno_path == "Jogging/groundtruth_rect.2.txt"
    assert table["Human4_2"].frames_dir == "Human4/img"
    assert table["Skating2_1"].anno_path == "Skating2/groundtruth_rect.1.txt"


def test_nfs_table():
    table = {e.name: e for e in nfs_table()}
    assert len(table) == 100
    assert table["Gymnastics"].frame_file(1) == "sequences/Gymnastics/00001.jpg"
    assert table["Gymnastics"].anno_path == "anno/nfs_Gymnastics.txt"
