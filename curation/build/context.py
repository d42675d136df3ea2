"""What every builder shares: the workspace, loaded gold datasets, required-gold checks and lineage records."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset

from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.workspace import Workspace


def rows_dataset(rows: list[dict[str, Any]], features: Any) -> Dataset:
    """A config's rows as a Dataset of `features`; no rows give an empty one (`from_list([])` fails in datasets 5)."""
    if not rows:
        return Dataset.from_dict({name: [] for name in features}, features=features)
    return Dataset.from_list(rows, features=features)


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


def gold_annotators(ds: Dataset) -> dict[str, Any]:
    """Who gave the gold of a dataset: people and simulated annotators (counts), and how many rows rest on a
    simulated answer (a simulated account among the deciders); imported labels count as `source_label`."""
    from curation.annotate.responses import SIMULATED, annotator_kind, annotators_by_kind

    users: set[str] = set()
    simulated_rows = imported = 0
    deciders = ds[C.DECIDED_BY] if C.DECIDED_BY in ds.column_names else [""] * len(ds)
    rules = ds[C.DECISION_RULE] if C.DECISION_RULE in ds.column_names else [""] * len(ds)
    provenance = ds[C.GOLD_PROVENANCE] if C.GOLD_PROVENANCE in ds.column_names else [None] * len(ds)
    for decided_by, rule, prov in zip(deciders, rules, provenance, strict=True):
        if rule == SOURCE_LABEL:
            imported += 1
            continue
        names = [u for u in (decided_by or "").split(",") if u]
        users.update(names)
        for question in (json.loads(prov) if prov else {}).values():
            users.update((question.get("answers") or {}).keys())
        simulated_rows += any(annotator_kind(u) == SIMULATED for u in names)
    kinds = annotators_by_kind(users)
    return {"people": len(kinds["person"]), "simulated": len(kinds["simulated"]), "simulated_rows": simulated_rows,
            "source_label_rows": imported}


CONTRAST_OF = "contrast_of"  # ingest's link between the two rows of a contrast pair
SOURCE_LABEL = "source_label"  # decision rule of gold imported from already-labelled data (`curate gold import`)


@dataclass
class BuildContext:
    """Loads each gold dataset once and records its lineage (fingerprint, snapshot, adjudication, agreement,
    annotators); gold resting on simulated answers is refused unless `allow_simulated`."""

    workspace: Workspace
    seed: int = 0
    allow_simulated: bool = False
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    exclusions: dict[str, dict[str, int]] = field(default_factory=dict)
    _loaded: dict[str, Dataset] = field(default_factory=dict)
    _finish: dict[str, str] | None = None
    _links: list[tuple[str, str]] | None = None

    def load(self, name: str) -> Dataset:
        if name not in self._loaded:
            ds = self.workspace.load_dataset(name)
            info = self._lineage(name, ds)
            simulated = (info.get("annotators") or {}).get("simulated_rows", 0)
            if simulated and not self.allow_simulated:
                raise InputError(f"gold '{name}' rests on simulated answers ({simulated} of {len(ds)} rows decided "
                                 "with a simulated annotator)",
                                 "have people annotate it, or pass --allow-simulated (the card then says so)")
            self._loaded[name] = ds
            self.sources[name] = info
        return self._loaded[name]

    def exclude(self, config: str, reason: str, n: int = 1) -> None:
        """Count rows a builder left out, by config and reason (the build report)."""
        counts = self.exclusions.setdefault(config, {})
        counts[reason] = counts.get(reason, 0) + n

    def _scan(self) -> None:
        """Read, once per build, what earlier stages recorded in the workspace: generated text -> finish_reason
        (`response`/`finish_reason`, de-harm `answer`/`answer_finish_reason`) and ingest's contrast links."""
        self._finish, self._links = {}, []
        pairs = ((C.RESPONSE, C.FINISH_REASON), ("answer", "answer_finish_reason"))
        for info in self.workspace.list_datasets():
            if CONTRAST_OF in info.columns and C.ID in info.columns:
                ds = self.workspace.load_dataset(info.name).select_columns([C.ID, CONTRAST_OF])
                self._links += [(a, b) for a, b in zip(ds[C.ID], ds[CONTRAST_OF], strict=True) if a and b]
            for text_col, reason_col in pairs:
                if text_col in info.columns and reason_col in info.columns:
                    ds = self.workspace.load_dataset(info.name).select_columns([text_col, reason_col])
                    for text, reason in zip(ds[text_col], ds[reason_col], strict=True):
                        if text and reason and self._finish.get(text) != C.TRUNCATED:  # cut anywhere: cut
                            self._finish[text] = reason

    def finish_reasons(self) -> dict[str, str]:
        """Generated text -> finish_reason (`stop` / `length`) as recorded where it was generated."""
        if self._finish is None:
            self._scan()
        return self._finish or {}

    def contrast_links(self) -> list[tuple[str, str]]:
        """(id, id) contrast pairs found by ingest: a build keeps both rows of a pair in one split."""
        if self._links is None:
            self._scan()
        return self._links or []

    def truncated(self, row: dict[str, Any], text: str, reason_column: str = C.FINISH_REASON) -> bool:
        """Whether `text` (a response or answer of `row`) was cut at max_new_tokens: the row's own finish reason,
        else the one recorded where it was generated."""
        reason = row.get(reason_column) or self.finish_reasons().get(text)
        return reason == C.TRUNCATED

    def _lineage(self, name: str, ds: Dataset) -> dict[str, Any]:
        info: dict[str, Any] = {"rows": len(ds), "fingerprint": content_fingerprint(ds)}
        if C.GOLD_STATUS in ds.column_names:
            info["annotators"] = gold_annotators(ds)
            first = ds[0] if len(ds) else {}
            info["annotation_snapshot"] = {
                "dataset": first.get(C.ARGILLA_DATASET), "pulled_at": first.get(C.PULLED_AT),
                "responses": int(sum(ds[C.ANNOTATION_COUNT])) if C.ANNOTATION_COUNT in ds.column_names else None,
            }
            info["decision_rules"] = sorted(set(ds[C.DECISION_RULE]) - {""})
            base = name.removesuffix(".gold")
            imported = self.workspace.path("artifacts", "gold_import", base, "import.json")
            if imported.exists():  # `curate gold import`: where the labels came from and under which licence
                meta = json.loads(imported.read_text())
                info["origin"] = meta.get("sources") or []
                if meta.get("license"):
                    info["license"] = meta["license"]
            adjudication = self.workspace.path("artifacts", "adjudication", base, "config.json")
            if adjudication.exists():
                info["adjudication_config"] = json.loads(adjudication.read_text())
            qa_report = self.workspace.path("artifacts", "qa", base, "report.json")
            if qa_report.exists():
                from curation.qa.stage import summary

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
    test_only: bool = False  # an evaluation benchmark: every row in one `test` split, no train split
