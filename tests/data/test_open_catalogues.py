"""Open catalogues: a family or plugin registers path fields, training and evaluation datasets from its own module,
without editing lib/utils/env.py, lib/train/dataset/catalog.py or lib/test/evaluation/datasets.py."""
import numpy as np
import pytest

from lib.test.evaluation import datasets as eval_catalog
from lib.test.evaluation.data import Sequence, SequenceList
from lib.test.evaluation.readers import EvalDataset
from lib.train.dataset import catalog as train_catalog
from lib.utils import env
from lib.utils.file_source import DirSource
from lib.utils.local_files import train_local_text


class DepthReader:
    """Stands for a multi-modal training reader: records what the catalog handed it."""

    def __init__(self, source, only_present):
        self.source, self.only_present = source, only_present


class DepthBenchmark(EvalDataset):
    tag = "depthbench"

    def get_sequence_list(self) -> SequenceList:
        gt = np.array([[1.0, 2.0, 3.0, 4.0]])
        return SequenceList([Sequence("seq1", [self.source.path("seq1/0001.png")], self.tag, gt)])


@pytest.fixture
def plugin(monkeypatch):
    """Registers the plugin's entries; the tables are restored afterwards."""
    monkeypatch.setattr(train_catalog, "_CATALOG", dict(train_catalog._CATALOG))
    monkeypatch.setattr(eval_catalog, "_DATASETS", dict(eval_catalog._DATASETS))
    env.register_path_field("plugin_rgbd_dir", "plugin_rgbd/train", side="train")
    env.register_path_field("plugin_rgbd_path", "plugin_rgbd/test", side="test")
    train_catalog.register_train_dataset("PLUGIN_RGBD", "plugin_rgbd_dir", DepthReader)
    eval_catalog.register_eval_dataset("plugin_rgbd", "plugin_rgbd_path",
                                       lambda root, only: DepthBenchmark(DirSource(root)))
    yield
    for table in (env.TRAIN_DATA_FIELDS, env.TEST_DATA_FIELDS):
        table.pop("plugin_rgbd_dir", None)
        table.pop("plugin_rgbd_path", None)


def test_registered_path_fields_resolve_like_built_in_ones(plugin, isolated_env, tmp_path):
    settings = env.env_settings(data_dir=str(tmp_path), local_loader=dict)
    assert settings.plugin_rgbd_dir == str(tmp_path / "plugin_rgbd" / "train")
    isolated_env.setenv("TRACKZOO_PLUGIN_RGBD_DIR", str(tmp_path / "elsewhere"))
    settings = env.env_settings(local_loader=dict)
    assert settings.plugin_rgbd_dir == str(tmp_path / "elsewhere") and settings.source("plugin_rgbd_dir") == "environment"
    with pytest.raises(env.MissingPathError, match="TRACKZOO_PLUGIN_RGBD_DIR"):
        settings.require("plugin_rgbd_dir")
    # create_default_local_file.py writes the new field too.
    assert "self.plugin_rgbd_dir = " in train_local_text(env.default_paths(data_dir="/d", save_dir="/s",
                                                                           workspace_dir="/w") |
                                                        {"pretrained_networks": "/p"})


def test_a_registered_training_dataset_is_built_from_its_path_field(plugin, isolated_env, tmp_path):
    (tmp_path / "plugin_rgbd" / "train").mkdir(parents=True)
    settings = env.env_settings(data_dir=str(tmp_path), local_loader=dict)
    reader = train_catalog.build_train_dataset("PLUGIN_RGBD", settings=settings, only_present=True)
    assert isinstance(reader, DepthReader) and reader.only_present
    assert reader.source.root == str(tmp_path / "plugin_rgbd" / "train")
    assert "PLUGIN_RGBD" in train_catalog.train_dataset_names()
    with pytest.raises(train_catalog.UserError, match="no LMDB pack"):
        train_catalog.build_train_dataset("PLUGIN_RGBD", use_lmdb=True, settings=settings)


def test_a_registered_evaluation_dataset_is_listed_and_read(plugin, isolated_env, tmp_path):
    (tmp_path / "plugin_rgbd" / "test").mkdir(parents=True)
    settings = env.env_settings(data_dir=str(tmp_path), local_loader=dict)
    sequences = eval_catalog.get_dataset("plugin_rgbd", settings=settings)
    assert [s.name for s in sequences] == ["seq1"] and sequences[0].dataset == "depthbench"
    assert "plugin_rgbd" in eval_catalog.dataset_names()


def test_names_and_fields_cannot_be_taken_twice(plugin):
    with pytest.raises(ValueError, match="already declared"):
        env.register_path_field("lasot_dir", "other", side="train")
    with pytest.raises(ValueError, match="side"):
        env.register_path_field("x_dir", "x", side="both")
    with pytest.raises(ValueError, match="already registered"):
        train_catalog.register_train_dataset("LASOT", "plugin_rgbd_dir", DepthReader)
    with pytest.raises(ValueError, match="already registered"):
        eval_catalog.register_eval_dataset("lasot", "plugin_rgbd_path", lambda root, only: None)
    env.register_path_field("plugin_rgbd_dir", "plugin_rgbd/train", side="train")  # the same declaration again: fine
