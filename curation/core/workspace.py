"""The workspace folder: named datasets saved atomically, artifacts, caches, logs and secrets."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, load_from_disk

from curation.core.errors import CurationError, InputError
from curation.core.progress import datasets_progress, is_long

DATASETS = "datasets"
ARTIFACTS = "artifacts"
CACHE = "cache"
LOGS = "logs"
SECRETS = "secrets"


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temp dir beside `target`; on success swap it in, on failure leave `target` untouched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        backup = target.with_name(f".{target.name}.old-{os.getpid()}")
        if target.exists():
            os.replace(target, backup)
        os.replace(tmp, target)
        shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path: Path, text: str, mode: int | None = None) -> None:
    """Write a file via temp file + rename, optionally with permissions (0600 for secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    rows: int
    columns: list[str]
    modified: float
    path: Path


class Workspace:
    """Paths and safe persistence under one root folder (default `./.curate`)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def dir(self, *parts: str) -> Path:
        """A sub-folder of the workspace, created on demand."""
        p = self.path(*parts)
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise CurationError(
                f"cannot create workspace folder {p}: {err.strerror}",
                "check the disk and permissions, or pass --workspace",
            ) from None
        return p

    # datasets -----------------------------------------------------------------
    def dataset_path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise InputError(f"invalid dataset name {name!r}", "use letters, digits, '-', '_' and '.'")
        return self.path(DATASETS, name)

    def has_dataset(self, name: str) -> bool:
        return (self.dataset_path(name) / "state.json").exists() or (
            self.dataset_path(name) / "dataset_dict.json"
        ).exists()

    def save_dataset(self, ds: Dataset | DatasetDict, name: str) -> Path:
        """Save atomically: write to a temp dir, then rename; a failed save leaves the old copy intact."""
        target = self.dataset_path(name)
        self.dir(DATASETS)
        rows = ds.num_rows if isinstance(ds, Dataset) else sum(ds.num_rows.values())
        try:
            with atomic_dir(target) as tmp, datasets_progress(is_long(rows)):
                ds.save_to_disk(str(tmp))
        except OSError as err:
            raise CurationError(
                f"could not save dataset '{name}' to {target}: {err.strerror or err}",
                "free disk space or fix permissions; the previous version is unchanged",
            ) from None
        return target

    def load_dataset(self, name: str) -> Dataset:
        """Load a saved dataset by workspace name, or a `save_to_disk` folder by path."""
        path = Path(name)
        if not (path.is_dir() and (path / "state.json").exists()):
            path = self.dataset_path(name)
        if not path.exists():
            known = ", ".join(d.name for d in self.list_datasets()) or "none"
            raise InputError(
                f"no dataset named '{name}' in workspace {self.root}",
                f"known: {known}; create one with `curate ingest SOURCE --name {name}`",
            )
        loaded = load_from_disk(str(path))
        if isinstance(loaded, DatasetDict):
            raise InputError(f"'{name}' is a DatasetDict, not a Dataset", "pass one of its splits")
        return loaded

    def list_datasets(self) -> list[DatasetInfo]:
        base = self.path(DATASETS)
        if not base.exists():
            return []
        infos = []
        for d in sorted(base.iterdir()):
            if d.name.startswith(".") or not d.is_dir():
                continue
            rows, cols = 0, []
            info_file = d / "dataset_info.json"
            state = d / "state.json"
            if state.exists():
                try:
                    ds = load_from_disk(str(d))
                    rows, cols = len(ds), list(ds.column_names)
                except Exception:  # noqa: BLE001 - a broken folder is listed, not fatal
                    pass
            elif info_file.exists():
                cols = ["(DatasetDict)"]
            infos.append(DatasetInfo(d.name, rows, cols, d.stat().st_mtime, d))
        return infos

    # artifacts, caches, secrets ---------------------------------------------------
    def artifact_dir(self, kind: str, name: str = "") -> Path:
        return self.dir(ARTIFACTS, kind, name) if name else self.dir(ARTIFACTS, kind)

    def cache_dir(self, kind: str) -> Path:
        return self.dir(CACHE, kind)

    def log_dir(self) -> Path:
        return self.dir(LOGS)

    def write_json(self, path: Path, data: Any, mode: int | None = None) -> None:
        atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", mode=mode)

    def write_secret(self, name: str, data: dict[str, Any]) -> Path:
        """Store a secret as JSON with mode 0600 inside a 0700 folder."""
        folder = self.dir(SECRETS)
        os.chmod(folder, 0o700)
        path = folder / f"{name}.json"
        self.write_json(path, data, mode=0o600)
        return path

    def read_secret(self, name: str) -> dict[str, Any] | None:
        path = self.path(SECRETS, f"{name}.json")
        return json.loads(path.read_text()) if path.exists() else None

    def log_event(self, stage: str, **fields: Any) -> None:
        """Append one JSON line to logs/stages.jsonl (never secrets)."""
        line = json.dumps({"time": time.time(), "stage": stage, **fields}, default=str)
        with open(self.log_dir() / "stages.jsonl", "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def get_workspace(root: Path | str | None = None) -> Workspace:
    """The workspace from an explicit path or the settings."""
    if root is None:
        from curation.core.config import default_settings

        root = default_settings().workspace
    return Workspace(root)
