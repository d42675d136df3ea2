"""QA stage: inter-annotator agreement on a pulled annotation snapshot (labels and spans) and how well each
heuristic agent's suggested spans held up; a JSON report, a rich table and an optional PNG."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from datasets import Dataset
from pydantic import BaseModel, ConfigDict, Field

from curation.annotate.responses import RecordAnswers, parse_snapshot, question_kinds, require_snapshot
from curation.core import columns as C
from curation.core.report import StageReport
from curation.qa.labels import label_agreement
from curation.qa.spans import span_agreement, suggestion_quality

__all__ = ["QAConfig", "QAReport", "run", "pipeline_spans", "parse_snapshot", "RecordAnswers"]


class QAConfig(BaseModel):
    """Options of `curate qa`."""

    model_config = ConfigDict(extra="forbid")

    iou_threshold: float = Field(0.5, gt=0, le=1, description="Character IoU for overlap-tolerant span matches.")
    questions: list[str] | None = Field(None, description="Only these questions (default: every answered one).")


@dataclass
class QAReport(StageReport):
    """Agreement of a snapshot: per label question (kappa, alpha), per span question (span F1) and per suggesting
    agent (precision / recall); `as_dict` is the JSON written as artifacts/qa/NAME/report.json."""

    dataset: str = "annotations"
    argilla_dataset: str | None = None
    pulled_at: str | None = None
    records: int = 0
    annotated_records: int = 0
    responses: int = 0
    annotators: list[str] = field(default_factory=list)
    question_kinds: dict[str, str] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    spans: dict[str, Any] = field(default_factory=dict)
    suggestions: dict[str, Any] = field(default_factory=dict)


def pipeline_spans(ds: Dataset) -> dict[str, Any]:
    """id -> pre-annotation `trigger_spans` (with per-span `agents`) from the pipeline dataset."""
    if C.TRIGGER_SPANS not in ds.column_names:
        return {}
    return dict(zip(ds[C.ID], ds[C.TRIGGER_SPANS], strict=True))


def _submitted_users(records: list[RecordAnswers]) -> list[set[str]]:
    """The annotators with a submitted response, per record (one response per user and record in Argilla)."""
    return [{a.user for answers in r.answers.values() for a in answers} for r in records]


def run(snapshot: Dataset, cfg: QAConfig | None = None, name: str = "annotations",
        pipeline: Mapping[str, Any] | None = None) -> QAReport:
    """The agreement report of a snapshot: per question kind, label or span figures; spans also against the
    suggestions (`pipeline` maps record id -> spans with per-span agents, when available)."""
    cfg = cfg or QAConfig()
    require_snapshot(snapshot, name)
    records = parse_snapshot(snapshot)
    kinds = question_kinds(records)
    if cfg.questions:
        kinds = {q: k for q, k in kinds.items() if q in cfg.questions}
    report = QAReport(
        dataset=name,
        argilla_dataset=snapshot[0].get(C.ARGILLA_DATASET) if C.ARGILLA_DATASET in snapshot.column_names else None,
        pulled_at=snapshot[0].get(C.PULLED_AT) if C.PULLED_AT in snapshot.column_names else None,
        records=len(records),
        annotated_records=sum(bool(r.answers) for r in records),
        responses=sum(len(a) for a in _submitted_users(records)),
        annotators=sorted({u for r in records for u in r.users}),
        question_kinds=kinds,
    )
    for question, kind in kinds.items():
        if kind == "label":
            report.labels[question] = label_agreement(records, question)
        elif kind == "span":
            report.spans[question] = span_agreement(records, question, cfg.iou_threshold)
            report.suggestions[question] = suggestion_quality(records, question, cfg.iou_threshold,
                                                              dict(pipeline) if pipeline else None)
    return report


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures (for manifests and dataset cards) of a report's `as_dict` (or its saved JSON)."""
    out: dict[str, Any] = {"dataset": report["dataset"], "records": report["records"],
                           "responses": report["responses"], "annotators": len(report["annotators"])}
    for q, lab in report["labels"].items():
        out[q] = {k: lab[k] for k in ("mean_cohen_kappa", "fleiss_kappa", "krippendorff_alpha")}
    for q, sp in report["spans"].items():
        out[q] = {"mean_exact_f1": sp["mean_exact_f1"], "mean_overlap_f1": sp["mean_overlap_f1"]}
    return json.loads(json.dumps(out))
