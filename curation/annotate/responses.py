"""Read a pulled Argilla snapshot (`NAME.annotations`) into plain per-record answers and suggestions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from datasets import Dataset

from curation.core import columns as C
from curation.core.errors import InputError

SIMULATED_PREFIX = "sim-annotator-"  # accounts of the simulated annotators (`curate demo`)
PERSON, SIMULATED = "person", "simulated"
SPAN_QUESTIONS = ("trigger_spans",)
LABEL_QUESTIONS = ("harmfulness", "should_refuse", "decision", "rewrite_benign", "keeps_trigger", "answer_helpful")
TEXT_QUESTIONS = ("deharmed_rewrite", "rationale", "notes")


def annotator_kind(user: str | None) -> str:
    """Who gave an answer: `simulated` for the simulated annotator accounts, else `person`."""
    return SIMULATED if (user or "").startswith(SIMULATED_PREFIX) else PERSON


@dataclass
class Answer:
    """One submitted answer of one annotator to one question, with who gave it (person / simulated)."""

    user: str
    value: Any
    updated_at: str
    kind: str = ""

    def __post_init__(self) -> None:
        self.kind = self.kind or annotator_kind(self.user)


@dataclass
class RecordAnswers:
    """Everything annotators said about one record, by question."""

    record_id: str
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    suggestions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def users(self) -> list[str]:
        return sorted({a.user for answers in self.answers.values() for a in answers})

    @property
    def simulated(self) -> bool:
        """Whether any answer to this record was given by a simulated annotator."""
        return any(a.kind == SIMULATED for answers in self.answers.values() for a in answers)


def _loads(value: Any, default: Any) -> Any:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise InputError(f"annotation snapshot holds invalid JSON: {value[:60]!r}",
                             "re-pull it with `curate annotate pull NAME`") from None
    return value


def require_snapshot(ds: Dataset, name: str = "annotations") -> None:
    """Raise a one-line InputError when `ds` is not a usable pulled snapshot."""
    missing = [c for c in (C.ID, C.ANNOTATIONS) if c not in ds.column_names]
    if missing:
        raise InputError(f"'{name}' is not an annotation snapshot: missing column(s) {', '.join(missing)}",
                         f"pull it with `curate annotate pull NAME`; columns found: {', '.join(ds.column_names)}")
    if len(ds) == 0:
        raise InputError(f"annotation snapshot '{name}' is empty", "annotate records in Argilla, then "
                         "`curate annotate pull NAME`")
    if not any(r.get("status") == "submitted" for rs in ds[C.ANNOTATIONS] for r in (rs or [])):
        raise InputError(f"annotation snapshot '{name}' has no submitted responses",
                         "submit annotations in Argilla, then `curate annotate pull NAME` again")


def parse_record(row: dict[str, Any]) -> RecordAnswers:
    """Submitted answers per question (drafts and discarded ignored) and the suggestions of one pulled row."""
    record = RecordAnswers(record_id=row[C.ID], suggestions=_loads(row.get(C.SUGGESTIONS), {}) or {})
    for response in row.get(C.ANNOTATIONS) or []:
        if response.get("status") != "submitted":
            continue
        values = _loads(response.get("values"), {}) or {}
        when = response.get("updated_at") or response.get("inserted_at") or ""
        for question, value in values.items():
            if isinstance(value, dict) and "value" in value:  # REST shape {"q": {"value": v}}
                value = value["value"]
            if value is None:
                continue
            user = response.get("user") or "?"
            record.answers.setdefault(question, []).append(
                Answer(user, value, when, response.get("annotator_kind") or annotator_kind(user)))
    return record


def parse_snapshot(ds: Dataset) -> list[RecordAnswers]:
    """All records of a pulled snapshot, in row order."""
    cols = [c for c in (C.ID, C.SUGGESTIONS, C.ANNOTATIONS) if c in ds.column_names]
    table = ds.select_columns(cols).to_dict()  # column access: far faster than decoding row by row
    return [parse_record({c: table[c][i] for c in cols}) for i in range(len(ds))]


def question_kind(question: str, values: list[Any]) -> str:
    """'span', 'label' or 'text': known question names first, then the shape of the answers."""
    if question in SPAN_QUESTIONS:
        return "span"
    if question in LABEL_QUESTIONS:
        return "label"
    if question in TEXT_QUESTIONS:
        return "text"
    if any(isinstance(v, list) for v in values):
        return "span"
    distinct = {str(v) for v in values}
    return "label" if len(distinct) <= 20 and all(len(str(v)) <= 40 for v in values) else "text"


def question_kinds(records: list[RecordAnswers]) -> dict[str, str]:
    """Kind of every question answered in the snapshot."""
    values: dict[str, list[Any]] = {}
    for record in records:
        for question, answers in record.answers.items():
            values.setdefault(question, []).extend(a.value for a in answers)
    return {q: question_kind(q, v) for q, v in sorted(values.items())}


def span_tuples(value: Any) -> list[tuple[str, int, int]]:
    """Spans as sorted (label, start, end) tuples from Argilla's list of {"label","start","end"}."""
    value = _loads(value, [])
    return sorted({(str(s["label"]), int(s["start"]), int(s["end"])) for s in value or []})


def span_answers(record: RecordAnswers, question: str) -> list[Answer]:
    """Span answers of every annotator who submitted the record: an optional span question left empty (all
    suggestions deleted) is absent from Argilla's values and means "no spans"."""
    given = {a.user: a for a in record.answers.get(question, [])}
    for answers in record.answers.values():
        for a in answers:
            if a.user not in given:
                given[a.user] = Answer(a.user, [], a.updated_at)
    return sorted(given.values(), key=lambda a: a.user) if question in record.answers or given else []


def annotators_by_kind(users: Any) -> dict[str, list[str]]:
    """{"person": [...], "simulated": [...]} of a collection of user names."""
    out: dict[str, list[str]] = {PERSON: [], SIMULATED: []}
    for user in sorted(set(users)):
        out[annotator_kind(user)].append(user)
    return out
