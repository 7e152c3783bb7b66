"""Path resolution: precedence, lazy missing-path errors, local.py files never overwritten."""
import os
import subprocess
import sys

import pytest

from lib.utils.env import MissingPathError, env_settings
from lib.utils.local_files import create_default_local_files

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def no_local():
    return {}


def test_convention_under_data_root(tmp_path):
    s = env_settings(environ={}, local_loader=no_local, data_dir=str(tmp_path))
    assert s.lasot_path == str(tmp_path / "lasot")
    assert s.got10k_dir == str(tmp_path / "got10k" / "train") and s.got10k_path == str(tmp_path / "got10k")


def test_precedence_convention_local_environment_cli(tmp_path):
    local = {"lasot_path": "/from/local", "otb_path": "/otb/local", "uav_path": "/uav/local"}
    environ = {"TRACKZOO_OTB_PATH": "/otb/env", "TRACKZOO_UAV_PATH": "/uav/env"}
    s = env_settings(environ=environ, local_loader=lambda: local, uav_path="/uav/cli")
    assert s.lasot_path == "/from/local" and s.source("lasot_path") == "local.py"
    assert s.otb_path == "/otb/env" and s.source("otb_path") == "environment"
    assert s.uav_path == "/uav/cli" and s.source("uav_path") == "command line"
    assert s.nfs_path.endswith(os.path.join("data", "nfs"))


def test_root_variables_reapply_the_convention(tmp_path):
    s = env_settings(environ={"TRACKZOO_DATA_DIR": str(tmp_path), "TRACKZOO_SAVE_DIR": str(tmp_path / "out")},
                     local_loader=lambda: {"lasot_path": "/from/local"})
    assert s.lasot_path == str(tmp_path / "lasot")
    assert s.results_path == str(tmp_path / "out" / "test" / "tracking_results")


def test_missing_path_fails_only_when_required_and_says_what_to_set(tmp_path):
    (tmp_path / "uav").mkdir()
    s = env_settings(environ={}, local_loader=no_local, data_dir=str(tmp_path))
    assert s.require("uav_path") == str(tmp_path / "uav")
    with pytest.raises(MissingPathError) as e:
        s.require("lasot_path")
    assert "TRACKZOO_LASOT_PATH" in str(e.value) and "lib/test/evaluation/local.py" in str(e.value)


def test_create_default_local_files_refuses_overwrite_and_round_trips(tmp_path, isolated_env):
    written = create_default_local_files(str(tmp_path / "ws"), str(tmp_path / "d"), str(tmp_path / "s"),
                                         root=str(tmp_path))
    before = [open(p).read() for p in written]
    with pytest.raises(FileExistsError, match="--force"):
        create_default_local_files("a", "b", "c", root=str(tmp_path))
    assert [open(p).read() for p in written] == before
    from lib.utils.env import local_file_paths
    values = local_file_paths(*written)
    assert values["lasot_path"] == str(tmp_path / "d" / "lasot")
    assert values["got10k_dir"] == str(tmp_path / "d" / "got10k" / "train")
    assert values["results_path"] == str(tmp_path / "s" / "test" / "tracking_results")
    create_default_local_files("a", "b", "c", root=str(tmp_path), force=True)
    assert local_file_paths(*written)["lasot_path"].endswith(os.path.join("b", "lasot"))


def test_broken_local_file_names_the_file(tmp_path):
    bad = tmp_path / "local.py"
    bad.write_text("this is not python\n")
    from lib.utils.env import local_file_paths
    with pytest.raises(ImportError, match=str(bad)):
        local_file_paths(str(bad), str(tmp_path / "absent.py"))


def test_cli_refuses_overwrite_without_force(tmp_path):
    cmd = [sys.executable, os.path.join(REPO, "tracking", "create_default_local_file.py"), "--workspace_dir", ".",
           "--data_dir", "./data", "--save_dir", "./output", "--root", str(tmp_path)]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    second = subprocess.run(cmd, capture_output=True, text=True)
    assert second.returncode != 0 and "--force" in second.stderr
    assert subprocess.run(cmd + ["--force"], capture_output=True).returncode == 0


def test_gitignore_keeps_code_and_ignores_local_files():
    def ignored(path):
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0
    assert not ignored("lib/__init__.py") and not ignored("lib/test/evaluation/environment.py")
    assert ignored("lib/train/admin/local.py") and ignored("lib/test/evaluation/local.py")
    assert ignored("data/lasot/x.jpg") and not ignored("data/README.md")
