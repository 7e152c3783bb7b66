"""Readers against hand-written miniature datasets in the official formats (not produced by the generator),
checked against values written out by hand, so generator and readers cannot agree on a wrong format."""
import json

import numpy as np
import pytest
import torch

from lib.test.evaluation import get_dataset
from lib.train.dataset.catalog import build_train_dataset
from lib.train.dataset.coco_seq import MSCOCOSeq
from lib.train.dataset.got10k import Got10k
from lib.train.dataset.lasot import Lasot
from lib.train.dataset.tracking_net import TrackingNet
from tests.data.fixture_writers import frame_level, isolated_settings, write_frame, write_frames, write_text

META = ("[METAINFO]\nurl: https://youtu.be/abc\nbegin: 00:00:01\nend: 00:00:02\nanno_fps: 10Hz\n"
        "object_class: {cls}\nmotion_class: running\nmajor_class: toy\nroot_class: artifact\n"
        "motion_adverb: fast\nresolution: (16, 12)\n")


def _lasot(root):
    seq = root / "lasot" / "airplane" / "airplane-1"
    write_frames(seq / "img", ["00000001.jpg", "00000002.jpg", "00000003.jpg"])
    write_text(seq / "groundtruth.txt", "1,2,3,4\n5,6,7,8\n1,1,-1,-1\n")
    write_text(seq / "full_occlusion.txt", "0,1,0\n")
    write_text(seq / "out_of_view.txt", "0,0,1\n")
    write_text(seq / "nlp.txt", "white airplane\n")
    seq = root / "lasot" / "bear" / "bear-2"
    write_frames(seq / "img", ["00000001.jpg", "00000002.jpg", "00000003.jpg"])
    write_text(seq / "groundtruth.txt", "10,20,30,40\n11,21,31,41\n0,0,0,0\n")
    write_text(seq / "full_occlusion.txt", "0,0,0")
    write_text(seq / "out_of_view.txt", "0,0,0")


def test_lasot_train_and_eval(tmp_path):
    _lasot(tmp_path)
    train = Lasot(tmp_path / "lasot", names=["airplane-1", "bear-2"])
    info = train.get_sequence_info(0)
    assert info["bbox"].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8], [1, 1, -1, -1]]
    assert info["valid"].tolist() == [True, True, False]
    assert info["visible"].tolist() == [True, False, False]
    assert train.get_sequence_info(1)["visible"].tolist() == [True, True, False]   # 0x0 box is not valid
    frames, anno, meta = train.get_frames(0, [2, 0])
    assert [frame_level(f) for f in frames] == [2, 0]          # frame id 2 -> file 00000003.jpg
    assert frames[0].shape == (12, 16, 3) and frames[0].dtype == np.uint8
    assert anno["bbox"][1].tolist() == [1, 2, 3, 4]
    assert meta["object_class_name"] == "airplane"
    assert train.get_class_list() == ["airplane", "bear"] and train.get_sequences_in_class("bear") == [1]

    seqs = get_dataset("lasot", only_present=True, settings=isolated_settings(tmp_path))
    assert [s.name for s in seqs] == ["airplane-1", "bear-2"]     # official test-list order
    s = seqs["airplane-1"]
    assert s.dataset == "lasot" and s.object_class == "airplane"
    assert s.frames[1].endswith("lasot/airplane/airplane-1/img/00000002.jpg")
    assert s.target_visible.tolist() == [True, False, False]
    assert s.ground_truth_rect.dtype == np.float64 and s.ground_truth_rect[1].tolist() == [5, 6, 7, 8]
    assert s.init_info() == {"init_bbox": [1.0, 2.0, 3.0, 4.0]}
    assert frame_level(s.read_frame(1)) == 1


def test_lasot_extension_tag(tmp_path):
    seq = tmp_path / "lasot_extension_subset" / "atv" / "atv-1"
    write_frames(seq / "img", ["00000001.jpg", "00000002.jpg"])
    write_text(seq / "groundtruth.txt", "1,2,3,4\n2,3,4,5\n")
    write_text(seq / "full_occlusion.txt", "0,0\n")
    write_text(seq / "out_of_view.txt", "0,1\n")
    (s,) = get_dataset("lasot_extension_subset", only_present=True, settings=isolated_settings(tmp_path))
    assert (s.name, s.dataset, s.object_class) == ("atv-1", "lasot_extension_subset", "atv")
    assert s.target_visible.tolist() == [True, False]


def _got10k(root):
    got = root / "got10k"
    write_text(got / "train" / "list.txt", "GOT-10k_Train_000001\nGOT-10k_Train_000002\n")
    for i, cls in ((1, "ball"), (2, "fish")):
        seq = got / "train" / f"GOT-10k_Train_00000{i}"
        write_frames(seq, ["00000001.jpg", "00000002.jpg", "00000003.jpg"])
        write_text(seq / "groundtruth.txt", "1.5000,2.2500,30.0000,40.1250\n2.0000,3.0000,31.0000,41.0000\n"
                                            "3.0000,4.0000,0.0000,0.0000\n")
        write_text(seq / "absence.label", "0\n1\n0\n")
        write_text(seq / "cover.label", "8\n0\n3\n")
        write_text(seq / "cut_by_image.label", "0\n0\n1\n")
        write_text(seq / "meta_info.ini", META.format(cls=cls))
    write_text(got / "val" / "list.txt", "GOT-10k_Val_000001\n")
    seq = got / "val" / "GOT-10k_Val_000001"
    write_frames(seq, ["00000001.jpg", "00000002.jpg"])
    write_text(seq / "groundtruth.txt", "1.0000,2.0000,3.0000,4.0000\n5.0000,6.0000,7.0000,8.0000\n")
    write_text(seq / "absence.label", "0\n0\n")
    write_text(seq / "cover.label", "8\n8\n")
    write_text(seq / "meta_info.ini", META.format(cls="dog"))
    write_text(got / "test" / "list.txt", "GOT-10k_Test_000001\n")
    seq = got / "test" / "GOT-10k_Test_000001"
    write_frames(seq, [f"{k:08d}.jpg" for k in range(1, 12)])
    write_text(seq / "groundtruth.txt", "9.0000,8.0000,7.0000,6.0000\n")


def test_got10k_train_reader(tmp_path):
    _got10k(tmp_path)
    data = Got10k(tmp_path / "got10k" / "train")
    info = data.get_sequence_info(1)
    assert torch.allclose(info["bbox"][0], torch.tensor([1.5, 2.25, 30.0, 40.125]))
    assert info["valid"].tolist() == [True, True, False]
    assert info["visible"].tolist() == [True, False, False]     # absent; then cover 3 but zero-size box
    assert info["visible_ratio"].tolist() == [1.0, 0.0, 0.375]
    assert data.get_class_name(1) == "fish" and data.get_sequences_in_class("ball") == [0]
    frames, anno, meta = data.get_frames(0, [1])
    assert frame_level(frames[0]) == 1 and meta["motion_adverb"] == "fast" and meta["major_class"] == "toy"
    val = Got10k(tmp_path / "got10k" / "val")
    assert val.sequence_list == ["GOT-10k_Val_000001"] and val.get_class_name(0) == "dog"


def test_got10k_catalog_and_eval(tmp_path):
    _got10k(tmp_path)
    settings = isolated_settings(tmp_path)
    full = build_train_dataset("GOT10K_train_full", settings=settings)
    assert full.sequence_list == ["GOT-10k_Train_000001", "GOT-10k_Train_000002"]
    assert build_train_dataset("GOT10K_official_val", settings=settings).get_num_sequences() == 1
    (val,) = get_dataset("got10k_val", settings=settings)
    assert val.dataset == "got10k" and val.ground_truth_rect.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert val.target_visible.tolist() == [True, True]  # cover.label > 0, what the got10k toolkit scores
    assert val.image_size == (16, 12)  # meta_info.ini resolution: the got10k protocol's clipping bound
    (test,) = get_dataset("got10k_test", settings=settings)
    assert test.ground_truth_rect.tolist() == [[9, 8, 7, 6]] and len(test.frames) == 11
    assert test.frames[-1].endswith("GOT-10k_Test_000001/00000011.jpg")


def _trackingnet(root):
    tn = root / "trackingnet"
    for name in ("-a1B2c3D4e5_0", "zz9_1"):
        write_frames(tn / "TRAIN_0" / "frames" / name, ["0.jpg", "1.jpg", "2.jpg"])
        write_text(tn / "TRAIN_0" / "anno" / f"{name}.txt", "1.00,2.00,3.00,4.00\n5.5,6.5,7.5,8.5\n0,0,0,0\n")
    write_frames(tn / "TEST" / "frames" / "-t_0", [f"{k}.jpg" for k in range(12)])
    write_text(tn / "TEST" / "anno" / "-t_0.txt", "4,3,2,1\n")


def test_trackingnet(tmp_path):
    _trackingnet(tmp_path)
    data = TrackingNet(tmp_path / "trackingnet")
    assert data.sequence_list == [(0, "-a1B2c3D4e5_0"), (0, "zz9_1")]
    info = data.get_sequence_info(0)
    assert info["bbox"][1].tolist() == [5.5, 6.5, 7.5, 8.5]
    assert info["visible"].tolist() == [True, True, False]
    frames, _, _ = data.get_frames(0, [0, 2])
    assert [frame_level(f) for f in frames] == [0, 2]           # frame id k -> file k.jpg (from 0)
    (s,) = get_dataset("trackingnet", settings=isolated_settings(tmp_path))
    assert s.name == "-t_0" and s.dataset == "trackingnet" and s.ground_truth_rect.tolist() == [[4, 3, 2, 1]]
    # numeric order, not lexicographic: 0, 1, 2, ..., 10, 11
    assert [p.rsplit("/", 1)[1] for p in s.frames] == [f"{k}.jpg" for k in range(12)]


def test_uav_subsequences_and_nan(tmp_path):
    uav = tmp_path / "uav"
    # uav1_2 covers frames 1555-2377 (823 rows), uav1_3 frames 2473-3469 (997 rows) of the same raw video
    rows2 = "".join(f"{i},{i + 1},10,20\n" for i in range(823))
    rows3 = "".join("NaN,NaN,NaN,NaN\n" if i in (5, 6) else f"{i},0,5,5\n" for i in range(997))
    write_text(uav / "anno" / "UAV123" / "uav1_2.txt", rows2)
    write_text(uav / "anno" / "UAV123" / "uav1_3.txt", rows3)
    for k in (1555, 2377, 2473, 3469):   # the reader checks the first and last frame of each entry
        write_frame(uav / "data_seq" / "UAV123" / "uav1" / f"{k:06d}.jpg", k)
    seqs = get_dataset("uav", only_present=True, settings=isolated_settings(tmp_path))
    assert seqs.names() == ["uav_uav1_2", "uav_uav1_3"]
    s2, s3 = seqs
    assert s2.dataset == "uav" and s2.object_class == "aircraft"
    assert len(s2.frames) == 823 and s2.frames[0].endswith("data_seq/UAV123/uav1/001555.jpg")
    assert s2.frames[-1].endswith("uav1/002377.jpg") and s2.ground_truth_rect[822].tolist() == [822, 823, 10, 20]
    assert s3.frames[0].endswith("uav1/002473.jpg") and len(s3.frames) == 997
    assert np.isnan(s3.ground_truth_rect[5]).all() and s3.ground_truth_rect[7].tolist() == [7, 0, 5, 5]


def test_otb_layout_quirks(tmp_path):
    otb = tmp_path / "otb"
    write_text(otb / "Jogging" / "groundtruth_rect.1.txt", "".join(f"{i},1,2,3\n" for i in range(307)))
    write_text(otb / "Jogging" / "groundtruth_rect.2.txt", "".join(f"{i}\t9\t8\t7\n" for i in range(307)))
    write_text(otb / "Tiger1" / "groundtruth_rect.txt", "".join(f"{i} {i}  4 5\n" for i in range(354)))
    write_text(otb / "David" / "groundtruth_rect.txt", "".join(f"{i}, 2, 3, 4\n" for i in range(471)))
    write_text(otb / "KiteSurf" / "groundtruth_rect.txt", "".join("1,2,3,4\n" for _ in range(84)))
    for k in (1, 307):
        write_frame(otb / "Jogging" / "img" / f"{k:04d}.jpg", k)
    for k in (6, 354):
        write_frame(otb / "Tiger1" / "img" / f"{k:04d}.jpg", k)
    for k in (300, 770):
        write_frame(otb / "David" / "img" / f"{k:04d}.jpg", k)
    for k in (1, 84):
        write_frame(otb / "KiteSurf" / "jpg" / f"{k:04d}.png", k)
    seqs = get_dataset("otb", only_present=True, settings=isolated_settings(tmp_path))
    assert seqs.names() == ["David", "Jogging_1", "Jogging_2", "KiteSurf", "Tiger1"]
    assert seqs["Jogging_2"].ground_truth_rect[3].tolist() == [3, 9, 8, 7]
    assert seqs["Jogging_1"].frames[0] == seqs["Jogging_2"].frames[0]
    tiger = seqs["Tiger1"]   # initOmit 5: frames and rows start at the sixth
    assert tiger.frames[0].endswith("Tiger1/img/0006.jpg") and tiger.ground_truth_rect[0].tolist() == [5, 5, 4, 5]
    assert len(tiger.frames) == len(tiger.ground_truth_rect) == 349
    david = seqs["David"]
    assert david.frames[0].endswith("David/img/0300.jpg") and david.frames[-1].endswith("David/img/0770.jpg")
    assert seqs["KiteSurf"].frames[0].endswith("KiteSurf/jpg/0001.png") and seqs["KiteSurf"].dataset == "otb"
    assert frame_level(seqs["KiteSurf"].read_frame(0)) == 1


def test_nfs_tab_layout(tmp_path):
    nfs = tmp_path / "nfs"
    write_text(nfs / "anno" / "nfs_bee.txt", "".join(f"{i}\t2\t3\t4\n" for i in range(45)))
    for k in (1, 45):
        write_frame(nfs / "sequences" / "bee" / f"{k:05d}.jpg", k)
    (s,) = get_dataset("nfs", only_present=True, settings=isolated_settings(tmp_path))
    assert (s.name, s.dataset, s.object_class) == ("nfs_bee", "nfs", "insect")
    assert s.frames[-1].endswith("sequences/bee/00045.jpg") and s.ground_truth_rect[44].tolist() == [44, 2, 3, 4]


def test_tnl2k_sorted_by_name(tmp_path):
    root = tmp_path / "tnl2k"
    for name in ("b_seq", "a_seq"):
        write_frames(root / name / "imgs", ["00002.png", "00001.png", "00010.png"])
        write_text(root / name / "groundtruth.txt", "1,2,3,4\n5,6,7,8\n9,10,11,12\n")
        write_text(root / name / "language.txt", "the thing\n")
    seqs = get_dataset("tnl2k", settings=isolated_settings(tmp_path))
    assert seqs.names() == ["a_seq", "b_seq"]
    assert [p.rsplit("/", 1)[1] for p in seqs[0].frames] == ["00001.png", "00002.png", "00010.png"]
    assert seqs[0].dataset == "tnl2k" and seqs[0].ground_truth_rect[2].tolist() == [9, 10, 11, 12]


def test_coco_instances(tmp_path):
    coco = tmp_path / "coco"
    write_frame(coco / "images" / "train2017" / "000000000009.jpg", 3)
    write_frame(coco / "images" / "train2017" / "000000000025.jpg", 5)
    doc = {"images": [{"id": 9, "file_name": "000000000009.jpg", "width": 16, "height": 12},
                      {"id": 25, "file_name": "000000000025.jpg", "width": 16, "height": 12}],
           "categories": [{"id": 1, "name": "person", "supercategory": "person"},
                          {"id": 18, "name": "dog", "supercategory": "animal"}],
           "annotations": [
               {"id": 1, "image_id": 9, "category_id": 1, "iscrowd": 0, "bbox": [1.5, 2.0, 60.0, 70.25]},
               {"id": 2, "image_id": 9, "category_id": 18, "iscrowd": 1, "bbox": [0, 0, 90, 90],
                "segmentation": {"counts": [0, 5], "size": [12, 16]}},
               {"id": 3, "image_id": 25, "category_id": 18, "iscrowd": 0, "bbox": [3, 4, 20, 80]}]}
    write_text(coco / "annotations" / "instances_train2017.json", json.dumps(doc))
    data = build_train_dataset("COCO17", settings=isolated_settings(tmp_path))
    assert isinstance(data, MSCOCOSeq) and not data.is_video_sequence()
    assert data.get_num_sequences() == 2                     # the crowd annotation is skipped
    assert data.get_sequence_info(0)["bbox"].tolist() == [[1.5, 2.0, 60.0, 70.25]]
    assert data.get_sequence_info(0)["valid"].tolist() == [True]
    assert data.get_sequence_info(1)["valid"].tolist() == [False]   # 20 px wide: under the 50 px rule
    frames, anno, meta = data.get_frames(1, [0, 0, 0])
    assert len(frames) == 3 and all(frame_level(f) == 5 for f in frames)
    assert anno["bbox"][2].tolist() == [3, 4, 20, 80]
    assert (meta["object_class_name"], meta["major_class"]) == ("dog", "animal")
    assert data.get_sequences_in_class("person") == [0]


def test_catalog_lasot_partial(tmp_path):
    _lasot(tmp_path)
    settings = isolated_settings(tmp_path)
    with pytest.raises(FileNotFoundError, match="only_present=True"):
        build_train_dataset("LASOT", settings=settings)
    # airplane-1 and bear-2 are test-split sequences: the train split has none of them
    train_seq = tmp_path / "lasot" / "airplane" / "airplane-2"
    write_frames(train_seq / "img", ["00000001.jpg"])
    write_text(train_seq / "groundtruth.txt", "1,2,3,4\n")
    write_text(train_seq / "full_occlusion.txt", "0\n")
    write_text(train_seq / "out_of_view.txt", "0\n")
    data = build_train_dataset("LASOT", settings=settings, only_present=True)
    assert data.sequence_list == ["airplane-2"]
