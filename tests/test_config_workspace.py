"""Settings precedence (defaults < curate.toml < env < flags) and the workspace's atomic, listable storage."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from datasets import Dataset

from curation.core.config import load_settings
from curation.core.errors import ConfigError, CurationError, InputError


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("CURATE_")]:
        monkeypatch.delenv(key)
    return tmp_path


def test_defaults_then_toml_then_env_then_flags(project, monkeypatch):
    assert load_settings().batch_size == 64 and load_settings().workspace == Path(".curate")
    (project / "curate.toml").write_text('batch_size = 7\nnear_dup_threshold = 0.9\nworkspace = "ws_toml"\n')
    s = load_settings()
    assert (s.batch_size, s.near_dup_threshold, s.workspace) == (7, 0.9, Path("ws_toml"))
    monkeypatch.setenv("CURATE_BATCH_SIZE", "9")
    assert load_settings().batch_size == 9 and load_settings().near_dup_threshold == 0.9
    assert load_settings(batch_size=11).batch_size == 11
    assert load_settings(batch_size=None).batch_size == 9  # an unset flag does not override


def test_invalid_settings_are_one_config_error(project, monkeypatch):
    (project / "curate.toml").write_text("batch_size = 0\n")
    with pytest.raises(ConfigError, match="settings: invalid value for 'batch_size'") as info:
        load_settings()
    assert "\n" not in str(info.value)
    (project / "curate.toml").write_text("batch_sise = 8\n")
    with pytest.raises(ConfigError, match="batch_sise"):
        load_settings()


def test_save_load_and_list(workspace):
    ds = Dataset.from_dict({"id": ["a", "b"], "prompt": ["x", "y"]})
    path = workspace.save_dataset(ds, "first")
    assert path == workspace.root / "datasets" / "first" and workspace.has_dataset("first")
    assert workspace.load_dataset("first")["prompt"] == ["x", "y"]
    assert workspace.load_dataset(str(path))["id"] == ["a", "b"]  # a save_to_disk folder by path
    [info] = workspace.list_datasets()
    assert (info.name, info.rows, info.columns) == ("first", 2, ["id", "prompt"])


def test_unknown_dataset_lists_known_names(workspace):
    workspace.save_dataset(Dataset.from_dict({"a": [1]}), "known-one")
    with pytest.raises(InputError, match="no dataset named 'nope'") as info:
        workspace.load_dataset("nope")
    assert "known-one" in str(info.value)
    with pytest.raises(InputError, match="invalid dataset name"):
        workspace.save_dataset(Dataset.from_dict({"a": [1]}), "../escape")


def test_failed_save_leaves_previous_version_intact(workspace, monkeypatch):
    workspace.save_dataset(Dataset.from_dict({"v": [1, 2, 3]}), "stable")

    def half_write(self, path, *args, **kwargs):
        Path(path, "data-00000-of-00001.arrow").write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Dataset, "save_to_disk", half_write)
    with pytest.raises(CurationError, match="could not save dataset 'stable'.*No space left"):
        workspace.save_dataset(Dataset.from_dict({"v": [9]}), "stable")
    monkeypatch.undo()
    assert workspace.load_dataset("stable")["v"] == [1, 2, 3]
    leftovers = [p.name for p in (workspace.root / "datasets").iterdir() if p.name != "stable"]
    assert leftovers == []


def test_interrupted_save_never_creates_a_half_dataset(workspace, monkeypatch):
    def interrupted(self, path, *args, **kwargs):
        Path(path, "state.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(Dataset, "save_to_disk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        workspace.save_dataset(Dataset.from_dict({"v": [1]}), "fresh")
    monkeypatch.undo()
    assert not workspace.has_dataset("fresh") and workspace.list_datasets() == []


def test_secrets_are_private_and_events_logged(workspace):
    path = workspace.write_secret("argilla", {"api_key": "k"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and workspace.read_secret("argilla") == {"api_key": "k"}
    workspace.log_event("ingest", name="x")
    assert '"stage": "ingest"' in (workspace.root / "logs" / "stages.jsonl").read_text()
