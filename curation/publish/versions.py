"""Immutable dataset versions: builds frozen under `<workspace>/versions/<tag>/` as parquet per config and split,
with a content fingerprint, a semver tag and a JSON manifest carrying the lineage; listing, showing and diffing."""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict

from curation.build.context import content_fingerprint
from curation.build.stage import BuildResult
from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.progress import datasets_progress
from curation.core.registry import builders
from curation.core.workspace import Workspace, atomic_dir

MANIFEST = "manifest.json"
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$")
BUMPS = ("major", "minor", "patch")


def data_file(config: str, split: str) -> str:
    """Path of one config/split inside a version (and in the Hub repository)."""
    return f"{config}/{split}-00000-of-00001.parquet"


def parse_semver(tag: str) -> tuple[int, int, int, str]:
    match = SEMVER.match(tag or "")
    if not match:
        raise InputError(f"'{tag}' is not a semver tag", "use MAJOR.MINOR.PATCH, e.g. 1.0.0")
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), pre or "~"  # "~" sorts a release after its pre-releases


def versions_dir(ws: Workspace) -> Path:
    return ws.path("versions")


def list_versions(ws: Workspace) -> list[dict[str, Any]]:
    """Manifests of every version, oldest semver first."""
    root = versions_dir(ws)
    if not root.exists():
        return []
    manifests = [json.loads((d / MANIFEST).read_text()) for d in root.iterdir()
                 if not d.name.startswith(".") and (d / MANIFEST).exists()]
    return sorted(manifests, key=lambda m: parse_semver(m["tag"]))


def next_tag(ws: Workspace, bump: str = "minor") -> str:
    """The latest tag bumped (1.0.0 for the first version)."""
    if bump not in BUMPS:
        raise InputError(f"unknown bump '{bump}'", f"use one of {', '.join(BUMPS)}")
    versions = list_versions(ws)
    if not versions:
        return "1.0.0"
    major, minor, patch, _ = parse_semver(versions[-1]["tag"])
    bumped = {"major": f"{major + 1}.0.0", "minor": f"{major}.{minor + 1}.0", "patch": f"{major}.{minor}.{patch + 1}"}
    return bumped[bump]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def create_version(ws: Workspace, build: BuildResult, tag: str | None = None, bump: str = "minor") -> dict[str, Any]:
    """Freeze a build as version `tag` (or the next one); refuses an existing tag. Returns the manifest."""
    tag = tag or next_tag(ws, bump)
    parse_semver(tag)
    target = versions_dir(ws) / tag
    if target.exists():
        raise InputError(f"version {tag} already exists", "versions are immutable: pick a new tag or use --bump")
    rows: dict[str, dict[str, int]] = {}
    hashes: dict[str, str] = {}
    files: dict[str, dict[str, Any]] = {}
    with atomic_dir(target) as tmp, datasets_progress(False):
        for config, dd in sorted(build.configs.items()):
            for split, ds in dd.items():
                if len(ds) == 0:
                    continue  # an empty split cannot be loaded from parquet; the manifest just omits it
                rel = data_file(config, split)
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                ds.to_parquet(str(tmp / rel))
                rows.setdefault(config, {})[split] = len(ds)
                hashes[f"{config}/{split}"] = content_fingerprint(ds)
                files[rel] = {"sha256": _sha256(tmp / rel), "bytes": (tmp / rel).stat().st_size}
        fingerprint = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:32]
        manifest = {
            "tag": tag, "fingerprint": fingerprint, "created_at": datetime.now(UTC).isoformat(),
            "lineage": build.lineage, "rows": rows, "content_hashes": hashes, "files": files,
            "features": {c: dd[next(iter(dd))].features.to_dict() for c, dd in build.configs.items()},
            "label_columns": {c: builders.get(c).label_column for c in build.configs if c in builders},
            "same_content_as": [m["tag"] for m in list_versions(ws) if m["fingerprint"] == fingerprint],
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        for path in tmp.rglob("*"):
            if path.is_file():
                os.chmod(path, 0o444)
    return manifest


def load_manifest(ws: Workspace, tag: str) -> dict[str, Any]:
    path = versions_dir(ws) / tag / MANIFEST
    if not path.exists():
        known = ", ".join(m["tag"] for m in list_versions(ws)) or "none"
        raise InputError(f"no version {tag} in {ws.root}", f"known versions: {known}; create one with "
                         "`curate version create BUILD`")
    return json.loads(path.read_text())


def load_config(ws: Workspace, tag: str, config: str) -> DatasetDict:
    """One config of a version as a DatasetDict."""
    manifest = load_manifest(ws, tag)
    if config not in manifest["rows"]:
        raise InputError(f"version {tag} has no config '{config}'", f"configs: {', '.join(manifest['rows'])}")
    folder = versions_dir(ws) / tag
    with datasets_progress(False):
        return DatasetDict({split: Dataset.from_parquet(str(folder / data_file(config, split)))
                            for split in manifest["rows"][config]})


def _rows_by_id(dd: DatasetDict) -> dict[str, tuple[str, dict[str, Any]]]:
    return {row[C.ID]: (split, row) for split, ds in dd.items() for row in ds}


def diff_versions(ws: Workspace, a: str, b: str) -> dict[str, Any]:
    """Per config: rows added, removed, changed (same id, other content), moved between splits, label changes."""
    ma, mb = load_manifest(ws, a), load_manifest(ws, b)
    out: dict[str, Any] = {"a": a, "b": b, "same_content": ma["fingerprint"] == mb["fingerprint"], "configs": {}}
    for config in sorted(set(ma["rows"]) | set(mb["rows"])):
        old = _rows_by_id(load_config(ws, a, config)) if config in ma["rows"] else {}
        new = _rows_by_id(load_config(ws, b, config)) if config in mb["rows"] else {}
        label = (mb.get("label_columns") or ma.get("label_columns") or {}).get(config, C.LABEL)
        both = sorted(set(old) & set(new))
        changed = [i for i in both if json.dumps(old[i][1], sort_keys=True, default=str)
                   != json.dumps(new[i][1], sort_keys=True, default=str)]
        label_changes = [{"id": i, "from": old[i][1].get(label), "to": new[i][1].get(label)} for i in both
                         if old[i][1].get(label) != new[i][1].get(label)]
        out["configs"][config] = {
            "rows_a": len(old), "rows_b": len(new), "label_column": label,
            "added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)), "changed": changed,
            "moved": [i for i in both if old[i][0] != new[i][0]], "label_changes": label_changes,
        }
    return out
