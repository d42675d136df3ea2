"""Adjudication: turn annotators' answers into gold values with a registered rule (majority, unanimity or a
named adjudicator); send disagreements to an Argilla review dataset and merge the reviewers' answers back.

Every gold value records who decided it (`decided_by`), when (`decided_at`) and how (`decision_rule`)."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from datasets import Dataset, Features, Value
from pydantic import BaseModel, ConfigDict, Field

from . import columns as C
from .errors import InputError, ServiceError
from .qa.responses import (
    Answer,
    RecordAnswers,
    parse_record,
    question_kinds,
    require_snapshot,
    span_answers,
    span_tuples,
)
from .registry import adjudicators, resolve

GOLD = "gold"
NEEDS_REVIEW = "needs_review"
UNANNOTATED = "unannotated"
REVIEW = "review"
REVIEW_SUFFIX = "-review"
ANSWERS_FIELD = "annotator_answers"
SPAN_FEATURE = [{"label": Value("string"), "start": Value("int64"), "end": Value("int64")}]
DROP_COLUMNS = (C.RESPONSES, C.SUGGESTIONS, C.RECORD_STATUS)


@dataclass(frozen=True)
class Decision:
    """A gold value and its provenance; `value is None` means the rule could not decide (send to review)."""

    value: Any
    decided_by: tuple[str, ...]
    decided_at: str
    rule: str


class AdjudicateConfig(BaseModel):
    """Options of `curate adjudicate`."""

    model_config = ConfigDict(extra="forbid")

    rule: str = Field("majority", description="Registered adjudicator: majority, unanimity, trusted_annotator.v1.")
    rule_args: dict[str, Any] = Field(default_factory=dict, description="Arguments of a named adjudicator.")
    questions: list[str] | None = Field(None, description="Questions to adjudicate (default: every answered one).")

    @property
    def rule_label(self) -> str:
        return self.rule if self.rule in ("majority", "unanimity") else f"adjudicator:{self.rule}"


def _latest(answers: list[Answer]) -> str:
    return max((a.updated_at for a in answers), default="")


def _by_label(kind: str, answers: list[Answer]) -> dict[str, list[Answer]]:
    groups: dict[str, list[Answer]] = {}
    for answer in answers:
        key = json.dumps(span_tuples(answer.value)) if kind == "span" else str(answer.value).strip()
        groups.setdefault(key, []).append(answer)
    return groups


def _value(kind: str, key: str, answers: list[Answer]) -> Any:
    if kind == "span":
        return [{"label": lab, "start": s, "end": e} for lab, s, e in json.loads(key)]
    return answers[0].value if kind == "text" else key


def _span_votes(answers: list[Answer]) -> tuple[list[dict[str, Any]], bool]:
    """Spans marked by more than half of the annotators, and whether some span tied at exactly half."""
    votes = Counter(span for a in answers for span in span_tuples(a.value))
    n = len(answers)
    kept = sorted(s for s, v in votes.items() if 2 * v > n)
    return [{"label": lab, "start": s, "end": e} for lab, s, e in kept], any(2 * v == n for v in votes.values())


def _decide_text(answers: list[Answer], rule: str) -> Decision:
    """Free text: the most common non-empty answer, else the latest one (text never blocks on review)."""
    filled = [a for a in answers if str(a.value).strip()]
    if not filled:
        return Decision("", tuple(sorted(a.user for a in answers)), _latest(answers), rule)
    groups = _by_label("text", filled)
    top = max(groups.values(), key=lambda g: (len(g), _latest(g)))
    return Decision(top[0].value, tuple(sorted(a.user for a in top)), _latest(top), rule)


@adjudicators.register("majority")
def majority(kind: str, answers: list[Answer]) -> Decision | None:
    """Label: the answer of a strict majority. Spans: every span a strict majority marked (a tie -> review)."""
    if kind == "text":
        return _decide_text(answers, "majority")
    users = tuple(sorted(a.user for a in answers))
    if kind == "span":
        spans, tie = _span_votes(answers)
        return None if tie else Decision(spans, users, _latest(answers), "majority")
    groups = _by_label(kind, answers)
    key, group = max(groups.items(), key=lambda kv: len(kv[1]))
    if 2 * len(group) <= len(answers) and len(answers) > 1:
        return None
    return Decision(_value(kind, key, group), tuple(sorted(a.user for a in group)), _latest(group), "majority")


@adjudicators.register("unanimity")
def unanimity(kind: str, answers: list[Answer]) -> Decision | None:
    """Gold only when every annotator gave the same answer (same span set for spans)."""
    if kind == "text":
        return _decide_text(answers, "unanimity")
    groups = _by_label(kind, answers)
    if len(groups) != 1:
        return None
    key, group = next(iter(groups.items()))
    return Decision(_value(kind, key, group), tuple(sorted(a.user for a in group)), _latest(group), "unanimity")


@adjudicators.register("trusted_annotator.v1")
def make_trusted_annotator(users: list[str]) -> Any:
    """A named adjudicator: the first listed (senior) annotator who answered decides; else majority."""
    if not users:
        raise InputError("trusted_annotator.v1 needs rule_args.users", "e.g. rule_args: {users: [alice]}")

    def decide(kind: str, answers: list[Answer]) -> Decision | None:
        for user in users:
            mine = [a for a in answers if a.user == user]
            if mine:
                value = [{"label": lab, "start": s, "end": e} for lab, s, e in span_tuples(mine[-1].value)] \
                    if kind == "span" else mine[-1].value
                return Decision(value, (user,), mine[-1].updated_at, "adjudicator:trusted_annotator.v1")
        return majority(kind, answers)

    decide.factory = True  # type: ignore[attr-defined]
    return decide


def get_rule(cfg: AdjudicateConfig) -> Any:
    """The decide(kind, answers) function of the configured rule."""
    fn = resolve(adjudicators, cfg.rule, "adjudication rule")
    return fn(**cfg.rule_args) if cfg.rule not in ("majority", "unanimity") else fn


def gold_features(base: Features, kinds: dict[str, str]) -> Features:
    """The gold dataset's schema: the snapshot's fields and metadata plus gold and provenance columns."""
    feats = {k: v for k, v in base.items() if k not in DROP_COLUMNS}
    for question, kind in kinds.items():
        feats[C.GOLD_PREFIX + question] = SPAN_FEATURE if kind == "span" else Value("string")
    for col in (C.GOLD_STATUS, C.DECIDED_BY, C.DECIDED_AT, C.DECISION_RULE, C.GOLD_PROVENANCE):
        feats[col] = Value("string")
    feats[C.RESPONSE_COUNT] = Value("int64")
    return Features(feats)


def _gold_columns(record: RecordAnswers, kinds: dict[str, str], decide: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    for question, kind in kinds.items():
        answers = span_answers(record, question) if kind == "span" else record.answers.get(question, [])
        decision = decide(kind, answers) if answers else None
        out[C.GOLD_PREFIX + question] = None if decision is None else decision.value
        provenance[question] = {
            "answers": {a.user: a.value for a in answers},
            "status": UNANNOTATED if not answers else (NEEDS_REVIEW if decision is None else GOLD),
            **({"decided_by": list(decision.decided_by), "decided_at": decision.decided_at, "rule": decision.rule}
               if decision is not None else {}),
        }
    return _finish(out, provenance)


def _finish(out: dict[str, Any], provenance: dict[str, Any]) -> dict[str, Any]:
    """Record-level status and provenance summary from the per-question provenance."""
    statuses = {p["status"] for p in provenance.values()}
    decided = [p for p in provenance.values() if p["status"] == GOLD]
    out[C.GOLD_STATUS] = NEEDS_REVIEW if NEEDS_REVIEW in statuses else (GOLD if decided else UNANNOTATED)
    out[C.DECIDED_BY] = ",".join(sorted({u for p in decided for u in p["decided_by"]}))
    out[C.DECIDED_AT] = max((p["decided_at"] for p in decided), default="")
    rules = sorted({p["rule"] for p in decided})
    out[C.DECISION_RULE] = REVIEW if REVIEW in rules else ",".join(rules)
    out[C.GOLD_PROVENANCE] = json.dumps(provenance, sort_keys=True, default=str)
    return out


def run(snapshot: Dataset, cfg: AdjudicateConfig | None = None, name: str = "annotations",
        previous: Dataset | None = None) -> Dataset:
    """The gold dataset: snapshot fields + `gold_<question>` + status and provenance columns. Review decisions
    in `previous` gold (an earlier run) are kept for questions the rule still cannot decide."""
    cfg = cfg or AdjudicateConfig()
    require_snapshot(snapshot, name)
    decide = get_rule(cfg)
    records = [parse_record(row) for row in snapshot]
    kinds = question_kinds(records)
    if cfg.questions:
        unknown = sorted(set(cfg.questions) - set(kinds))
        if unknown:
            raise InputError(f"question(s) {', '.join(unknown)} have no answers in '{name}'",
                             f"answered questions: {', '.join(kinds)}")
        kinds = {q: k for q, k in kinds.items() if q in cfg.questions}
    reviewed = _review_decisions(previous) if previous is not None else {}
    rows = []
    for row, record in zip(snapshot, records, strict=True):
        gold = _gold_columns(record, kinds, decide)
        if record.record_id in reviewed:
            gold = _apply_review(gold, reviewed[record.record_id], kinds)
        base = {k: v for k, v in row.items() if k not in DROP_COLUMNS}
        count = sum(1 for r in row.get(C.RESPONSES) or [] if r.get("status") == "submitted")
        rows.append({**base, **gold, C.RESPONSE_COUNT: count})
    features = gold_features(snapshot.features, kinds)
    return Dataset.from_list(rows, features=features)


def _review_decisions(gold: Dataset) -> dict[str, dict[str, Any]]:
    """record id -> {question: provenance} of decisions made in review in an earlier gold dataset."""
    out: dict[str, dict[str, Any]] = {}
    for rid, prov in zip(gold[C.ID], gold[C.GOLD_PROVENANCE], strict=True):
        done = {q: p for q, p in json.loads(prov).items() if p.get("rule") == REVIEW}
        if done:
            out[rid] = done
    return out


def _apply_review(gold: dict[str, Any], decisions: dict[str, Any], kinds: dict[str, str]) -> dict[str, Any]:
    provenance = json.loads(gold[C.GOLD_PROVENANCE])
    for question, decision in decisions.items():
        if question in provenance and provenance[question]["status"] == NEEDS_REVIEW:
            provenance[question].update({k: decision[k] for k in ("decided_by", "decided_at", "rule", "value")})
            provenance[question]["status"] = GOLD
            gold[C.GOLD_PREFIX + question] = decision["value"]
    return {**gold, **_finish({k: v for k, v in gold.items() if k.startswith(C.GOLD_PREFIX)
                               and k not in (C.GOLD_STATUS, C.GOLD_PROVENANCE)}, provenance)}


def counts(gold: Dataset) -> dict[str, int]:
    """Records per gold status."""
    return dict(Counter(gold[C.GOLD_STATUS]))


def disagreements(gold: Dataset) -> list[dict[str, Any]]:
    """Records that need review, each with its undecided questions and the annotators' answers."""
    out = []
    for row in gold:
        if row[C.GOLD_STATUS] != NEEDS_REVIEW:
            continue
        prov = json.loads(row[C.GOLD_PROVENANCE])
        open_questions = {q: p["answers"] for q, p in prov.items() if p["status"] == NEEDS_REVIEW}
        out.append({"row": row, "questions": open_questions})
    return out


def review_dataset_name(gold: Dataset, name: str) -> str:
    """The Argilla review dataset of a snapshot: `<argilla dataset>-review`."""
    base = gold[0].get(C.ARGILLA_DATASET) if len(gold) and C.ARGILLA_DATASET in gold.column_names else None
    return f"{base or name}{REVIEW_SUFFIX}"


def _original_labels(client: Any, gold: Dataset, workspace_name: str) -> dict[str, list[str]]:
    """Label lists of the original Argilla dataset's questions (so reviewers see every option)."""
    base = gold[0].get(C.ARGILLA_DATASET) if C.ARGILLA_DATASET in gold.column_names else None
    if not base:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = client.datasets(name=base, workspace=workspace_name)
    if dataset is None:
        return {}
    return {q.name: list(getattr(q, "labels", None) or []) for q in dataset.settings.questions}


def review_records(open_items: list[dict[str, Any]], kinds: dict[str, str]) -> list[Any]:
    """Argilla records for review: the prompt, every annotator's answers (as a field and as suggestions)."""
    import argilla as rg

    records = []
    for item in open_items:
        row, questions = item["row"], item["questions"]
        lines, suggestions = [], []
        for question, answers in questions.items():
            lines.append(f"**{question}**: " + "; ".join(f"{u} = {json.dumps(v)}" for u, v in sorted(answers.items())))
            agent = "annotators: " + " ".join(sorted(answers))  # Argilla agents allow no commas
            if kinds[question] == "span":
                votes = Counter(s for v in answers.values() for s in span_tuples(v))
                spans = sorted(votes)
                suggestions.append(rg.Suggestion(
                    question_name=question, agent=agent,
                    value=[{"label": lab, "start": s, "end": e} for lab, s, e in spans],
                    score=[votes[s] / len(answers) for s in spans]) if spans else None)
            else:
                top, n = Counter(str(v) for v in answers.values()).most_common(1)[0]
                suggestions.append(rg.Suggestion(question_name=question, value=top, agent=agent,
                                                 score=n / len(answers)))
        fields = {C.PROMPT: row.get(C.PROMPT) or "", ANSWERS_FIELD: "\n\n".join(lines)}
        records.append(rg.Record(id=row[C.ID], fields=fields, suggestions=[s for s in suggestions if s]))
    return records


def push_review(gold: Dataset, client: Any, name: str, workspace_name: str = "argilla") -> tuple[str, int]:
    """Create (or update) the Argilla review dataset with every disagreement; returns (dataset name, records)."""
    import argilla as rg

    open_items = disagreements(gold)
    review_name = review_dataset_name(gold, name)
    if not open_items:
        return review_name, 0
    prov = json.loads(open_items[0]["row"][C.GOLD_PROVENANCE])
    kinds = {q: ("span" if isinstance(gold.features.get(C.GOLD_PREFIX + q), list) else "label") for q in prov}
    asked = sorted({q for item in open_items for q in item["questions"]})
    labels = _original_labels(client, gold, workspace_name)
    for item in open_items:
        for q, answers in item["questions"].items():
            seen = [lab for v in answers.values() for lab in
                    ([s[0] for s in span_tuples(v)] if kinds[q] == "span" else [str(v)])]
            labels[q] = list(dict.fromkeys([*labels.get(q, []), *seen]))
    questions = [
        rg.SpanQuestion(name=q, field=C.PROMPT, labels=labels[q] or ["span"], allow_overlapping=True, required=False)
        if kinds[q] == "span" else rg.LabelQuestion(name=q, labels=labels[q], required=True)
        for q in asked
    ]
    if all(kinds[q] == "span" for q in asked):  # Argilla needs one required question to publish a dataset
        questions.append(rg.LabelQuestion(name="reviewed", labels=["done"], required=True))
    settings = rg.Settings(
        guidelines="Adjudicate: the annotators disagreed. Their answers are shown and pre-filled as suggestions; "
                   "give the final answer to each question.",
        fields=[rg.TextField(name=C.PROMPT), rg.TextField(name=ANSWERS_FIELD, use_markdown=True)],
        questions=questions, distribution=rg.TaskDistribution(min_submitted=1))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = client.datasets(name=review_name, workspace=workspace_name)
            if dataset is None:
                dataset = rg.Dataset(name=review_name, workspace=workspace_name, settings=settings, client=client)
                dataset.create()
            dataset.records.log(review_records(open_items, kinds))
    except Exception as err:  # noqa: BLE001 - the SDK raises many types for one failure
        raise ServiceError(f"could not push the review dataset '{review_name}' to Argilla: "
                           f"{str(err).splitlines()[0][-400:]}", "check it with `curate server status`") from None
    return review_name, len(open_items)


def merge_review(gold: Dataset, review: Dataset, review_name: str = REVIEW) -> Dataset:
    """Apply the reviewers' submitted answers (latest wins) to the open questions of `gold`; only questions that
    were open for a record change (answers to the pre-filled, already decided questions are ignored)."""
    if len(review) == 0:
        raise InputError(f"review snapshot '{review_name}' is empty", "answer the review dataset in Argilla first")
    decisions: dict[str, dict[str, Any]] = {}
    for row in review:
        record = parse_record(row)
        for question, answers in record.answers.items():
            latest = max(answers, key=lambda a: a.updated_at)
            value = latest.value
            if isinstance(value, list):
                value = [{"label": lab, "start": s, "end": e} for lab, s, e in span_tuples(value)]
            decisions.setdefault(record.record_id, {})[question] = {
                "value": value, "decided_by": [latest.user], "decided_at": latest.updated_at or _now(), "rule": REVIEW}
    kinds = {q[len(C.GOLD_PREFIX):]: "" for q in gold.column_names if q.startswith(C.GOLD_PREFIX)}
    rows = [_apply_review(dict(row), decisions[row[C.ID]], kinds) if row[C.ID] in decisions else dict(row)
            for row in gold]
    return Dataset.from_list(rows, features=gold.features)


def _now() -> str:
    return datetime.now(UTC).isoformat()
