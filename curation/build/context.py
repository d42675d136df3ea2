"""What every builder shares: the workspace, loaded gold datasets, required-gold checks and lineage records."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset

from .. import columns as C
from ..errors import InputError
from ..workspace import Workspace


def content_fingerprint(ds: Dataset) -> str:
    """sha256 of the rows (canonical JSON, in order) and column names: same content, same fingerprint."""
    digest = hashlib.sha256(json.dumps(sorted(ds.column_names)).encode())
    for batch in ds.iter(batch_size=1000):
        cols = sorted(batch)
        for i in range(len(batch[cols[0]]) if cols else 0):
            digest.update(json.dumps({c: batch[c][i] for c in cols}, sort_keys=True, default=str).encode())
            digest.update(b"\n")
    return digest.hexdigest()[:32]


def code_version() -> dict[str, str]:
    """The package version and, when run from a git checkout, its commit."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("refusal-curation")
    except PackageNotFoundError:
        package = "unknown"
    out = {"package": package}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=5, check=False).stdout.strip()
        if commit:
            out["git_commit"] = commit
    except (OSError, subprocess.SubprocessError):
        pass
    return out


@dataclass
class BuildContext:
    """Loads each gold dataset once and records its lineage (fingerprint, snapshot, adjudication, agreement)."""

    workspace: Workspace
    seed: int = 0
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    _loaded: dict[str, Dataset] = field(default_factory=dict)

    def load(self, name: str) -> Dataset:
        if name not in self._loaded:
            ds = self.workspace.load_dataset(name)
            self._loaded[name] = ds
            self.sources[name] = self._lineage(name, ds)
        return self._loaded[name]

    def _lineage(self, name: str, ds: Dataset) -> dict[str, Any]:
        info: dict[str, Any] = {"rows": len(ds), "fingerprint": content_fingerprint(ds)}
        if C.GOLD_STATUS in ds.column_names:
            first = ds[0] if len(ds) else {}
            info["annotation_snapshot"] = {
                "dataset": first.get(C.ARGILLA_DATASET), "pulled_at": first.get(C.PULLED_AT),
                "responses": int(sum(ds[C.RESPONSE_COUNT])) if C.RESPONSE_COUNT in ds.column_names else None,
            }
            info["decision_rules"] = sorted(set(ds[C.DECISION_RULE]) - {""})
            base = name.removesuffix(".gold")
            adjudication = self.workspace.path("artifacts", "adjudication", base, "config.json")
            if adjudication.exists():
                info["adjudication_config"] = json.loads(adjudication.read_text())
            qa_report = self.workspace.path("artifacts", "qa", base, "report.json")
            if qa_report.exists():
                from ..qa import summary

                info["agreement"] = summary(json.loads(qa_report.read_text()))
        return info


def require_gold(ds: Dataset, name: str, fields: list[str], config: str, skip_unresolved: bool) -> Dataset:
    """Rows with every required gold field; a missing column or (unless skipping) a missing value is an error."""
    for question in fields:
        column = C.GOLD_PREFIX + question
        if column not in ds.column_names:
            raise InputError(f"config '{config}': gold missing for required field '{question}' in '{name}'",
                             f"annotate '{question}' and run `curate adjudicate run {name.removesuffix('.gold')}`, "
                             f"or build '{config}' from another gold dataset")
    columns = [C.GOLD_PREFIX + q for q in fields]
    missing = [i for i, row in enumerate(ds.select_columns(columns)) if any(row[c] in (None, "") for c in columns)]
    if missing and not skip_unresolved:
        raise InputError(f"config '{config}': {len(missing)} record(s) of '{name}' have no gold for "
                         f"{'/'.join(fields)} (unannotated or still under review)",
                         f"finish the review and `curate adjudicate pull {name.removesuffix('.gold')}`, "
                         f"or set skip_unresolved: true under configs.{config}")
    if missing:
        keep = sorted(set(range(len(ds))) - set(missing))
        ds = ds.select(keep)
    return ds


def column(row: dict[str, Any], name: str, default: Any = "") -> Any:
    """A row value with a default for absent or null columns."""
    value = row.get(name)
    return default if value is None else value


@dataclass(frozen=True)
class Builder:
    """A registered build config: its options model, the function that makes its rows, and its label column."""

    config_model: type
    build: Any  # (cfg, BuildContext) -> Dataset with `id` and a text to split on (`prompt` or `messages`)
    label_column: str
    derived: Any = None  # optional (cfg, DatasetDict, BuildContext) -> {config name: DatasetDict} built from the splits
    stratify: tuple[str, ...] = ()  # columns always stratified on, whatever the build's stratify_by says
