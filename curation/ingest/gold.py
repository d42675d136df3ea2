"""`curate gold import`: already-labelled prompts (safe/unsafe, should answer/refuse) straight to `NAME.gold`,
without Argilla. Every gold value records its provenance `source_label` (the source, the column, the raw value), so
`build`, `version` and `push-to-hub` treat it like adjudicated gold and the card says where the labels came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from datasets import Dataset, Value

from curation.build.context import SOURCE_LABEL
from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.report import StageReport

GOLD, UNANNOTATED, NEEDS_REVIEW = "gold", "unannotated", "needs_review"
# one imported label answers every question the builders ask of a prompt's harmfulness
QUESTIONS = {"harmfulness": {"harmful": "harmful", "benign": "benign"},
             "should_refuse": {"harmful": "yes", "benign": "no"},
             "decision": {"harmful": "refuse", "benign": "answer"}}


@dataclass
class GoldImportReport(StageReport):
    """Rows made gold, left without gold (unknown label) and sent to review (conflicting duplicate labels)."""

    rows: int = 0
    gold: int = 0
    unknown_label: int = 0
    label_conflicts: int = 0
    labels: dict[str, int] = field(default_factory=dict)


def to_gold(ds: Dataset, origin: str = "") -> tuple[Dataset, GoldImportReport]:
    """`ds` (ingested: prompt, label, category, language...) with gold columns of every labelling question, the
    adjudication status columns and per-question provenance `source_label`."""
    if C.LABEL not in ds.column_names:
        raise InputError("gold import: no 'label' column", "pass --label-col COLUMN (values like safe/unsafe, "
                         "harmful/benign, should_answer/should_refuse)")
    report = GoldImportReport(rows=len(ds))
    now = datetime.now(UTC).isoformat()
    conflicts = ds["label_conflict"] if "label_conflict" in ds.column_names else [False] * len(ds)
    sources = ds[C.SOURCE] if C.SOURCE in ds.column_names else [origin] * len(ds)
    columns: dict[str, list[Any]] = {C.GOLD_PREFIX + q: [] for q in QUESTIONS}
    columns.update({C.GOLD_STATUS: [], C.DECIDED_BY: [], C.DECIDED_AT: [], C.DECISION_RULE: [],
                    C.GOLD_PROVENANCE: [], C.ANNOTATION_COUNT: []})
    for label, conflict, source in zip(ds[C.LABEL], conflicts, sources, strict=True):
        label = label or "unknown"
        report.labels[label] = report.labels.get(label, 0) + 1
        status = NEEDS_REVIEW if conflict else GOLD if label in ("harmful", "benign") else UNANNOTATED
        report.gold += status == GOLD
        report.unknown_label += status == UNANNOTATED
        report.label_conflicts += status == NEEDS_REVIEW
        provenance = {q: {"status": status, "rule": SOURCE_LABEL, "source": source, "label": label,
                          **({"value": values[label], "decided_at": now} if status == GOLD else {})}
                      for q, values in QUESTIONS.items()}
        for q, values in QUESTIONS.items():
            columns[C.GOLD_PREFIX + q].append(values[label] if status == GOLD else None)
        columns[C.GOLD_STATUS].append(status)
        columns[C.DECIDED_BY].append("")
        columns[C.DECIDED_AT].append(now if status == GOLD else "")
        columns[C.DECISION_RULE].append(SOURCE_LABEL if status == GOLD else "")
        columns[C.GOLD_PROVENANCE].append(json.dumps(provenance, sort_keys=True))
        columns[C.ANNOTATION_COUNT].append(0)
    ds = ds.remove_columns([c for c in columns if c in ds.column_names])
    features = ds.features.copy()
    for name in columns:
        features[name] = Value("int64") if name == C.ANNOTATION_COUNT else Value("string")
    out = ds.map(lambda _, idx: {n: [v[i] for i in idx] for n, v in columns.items()}, batched=True,
                 with_indices=True, features=features)
    if report.gold == 0:
        raise InputError(f"gold import: none of the {report.rows} rows has a usable label "
                         f"(labels found: {report.labels})", "map the label column with --label-col; values like "
                         "safe/unsafe, harmful/benign, should_answer/should_refuse")
    return out, report
