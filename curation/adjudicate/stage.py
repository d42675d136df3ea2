"""Adjudication: turn annotators' answers into gold values with a registered rule (majority, unanimity or a
named adjudicator); send disagreements to an Argilla review dataset and merge the reviewers' answers back.

Every gold value records who decided it (`decided_by`), when (`decided_at`) and how (`decision_rule`)."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from datasets import Dataset, Features, List, Value
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curation.annotate.push import agent_name
from curation.annotate.responses import (
    Answer,
    RecordAnswers,
    parse_record,
    question_kind,
    require_snapshot,
    span_answers,
    span_tuples,
)
from curation.annotate.schemas import AnnotationSchema
from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.registry import adjudicators

GOLD = "gold"
NEEDS_REVIEW = "needs_review"
UNANNOTATED = "unannotated"
REVIEW = "review"
REVIEW_SUFFIX = "-review"
ANSWERS_FIELD = "annotator_answers"  # older review datasets; new ones have one field per annotator
ANNOTATOR_FIELD = "annotator"
VOTES_FIELD = "votes"
INFO_FIELD = "record_info"
OPEN_QUESTIONS = "disputed"
REVIEWED_QUESTION = "reviewed"
REVIEW_WORKSPACE = "reviewers"
REVIEW_GUIDELINES = "adjudication_review.md"
REVIEW_FLOAT_METADATA = ("boundary_score", "p_refuse", "uncertainty")
REVIEW_METADATA = ("source", "language", "category", "judge_label", *REVIEW_FLOAT_METADATA)
REVIEW_INFO = (*REVIEW_METADATA, "decided_by", "simulated")
SPAN_FEATURE = [{"label": Value("string"), "start": Value("int64"), "end": Value("int64")}]
DROP_COLUMNS = (C.ANNOTATIONS, C.SUGGESTIONS, C.RECORD_STATUS)


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

    rule: str = Field("majority", description="Registered adjudication rule: majority.v1, unanimity.v1, "
                                             "trusted_annotator.v1 (unversioned names mean .v1).")
    rule_args: dict[str, Any] = Field(default_factory=dict, description="Arguments of the rule (its config model).")
    questions: list[str] | None = Field(None, description="Questions to adjudicate (default: every answered one).")

    @model_validator(mode="after")
    def _check_rule(self) -> AdjudicateConfig:
        """An unknown rule or bad rule_args fail here, before any snapshot is read."""
        adjudicators.validate_args(self.rule, self.rule_args, where=f"adjudication rule {self.rule}",
                                   prefix="rule_args")
        return self

    @property
    def rule_label(self) -> str:
        """How decisions of this rule are labelled (`majority`, `adjudicator:trusted_annotator.v1`)."""
        return get_rule(self).label


def _latest(answers: list[Answer]) -> str:
    return max((a.updated_at for a in answers), default="")


def _by_label(kind: str, answers: list[Answer]) -> dict[str, list[Answer]]:
    groups: dict[str, list[Answer]] = {}
    for answer in answers:
        if kind == "span":
            key = json.dumps(span_tuples(answer.value))
        elif kind == "multi_label":
            value = answer.value if isinstance(answer.value, list) else [answer.value]
            key = json.dumps(sorted(str(x) for x in value))
        else:
            key = str(answer.value).strip()
        groups.setdefault(key, []).append(answer)
    return groups


def _value(kind: str, key: str, answers: list[Answer]) -> Any:
    if kind == "span":
        return [{"label": lab, "start": s, "end": e} for lab, s, e in json.loads(key)]
    if kind == "multi_label":
        return json.loads(key)
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


def unanimity(kind: str, answers: list[Answer]) -> Decision | None:
    """Gold only when every annotator gave the same answer (same span set for spans)."""
    if kind == "text":
        return _decide_text(answers, "unanimity")
    groups = _by_label(kind, answers)
    if len(groups) != 1:
        return None
    key, group = next(iter(groups.items()))
    return Decision(_value(kind, key, group), tuple(sorted(a.user for a in group)), _latest(group), "unanimity")


majority.label = "majority"  # type: ignore[attr-defined]
unanimity.label = "unanimity"  # type: ignore[attr-defined]


@adjudicators.register("majority.v1")
def make_majority() -> Any:
    """Label: the answer of a strict majority; spans: every span a strict majority marked (a tie goes to review)."""
    return majority


@adjudicators.register("unanimity.v1")
def make_unanimity() -> Any:
    """Gold only when every annotator gave the same answer."""
    return unanimity


class TrustedAnnotatorArgs(BaseModel):
    """`rule_args` of trusted_annotator.v1: the annotators who decide, most senior first."""

    model_config = ConfigDict(extra="forbid")

    users: list[str] = Field(..., min_length=1, description="Annotators, most senior first (e.g. [alice]).")


@adjudicators.register("trusted_annotator.v1", config=TrustedAnnotatorArgs)
def make_trusted_annotator(users: list[str]) -> Any:
    """A named adjudicator: the first listed (senior) annotator who answered decides; else majority."""

    def decide(kind: str, answers: list[Answer]) -> Decision | None:
        for user in users:
            mine = [a for a in answers if a.user == user]
            if mine:
                value = [{"label": lab, "start": s, "end": e} for lab, s, e in span_tuples(mine[-1].value)] \
                    if kind == "span" else mine[-1].value
                return Decision(value, (user,), mine[-1].updated_at, "adjudicator:trusted_annotator.v1")
        return majority(kind, answers)

    decide.label = "adjudicator:trusted_annotator.v1"  # type: ignore[attr-defined]
    return decide


def get_rule(cfg: AdjudicateConfig) -> Any:
    """The decide(kind, answers) function of the configured rule."""
    return adjudicators.make(cfg.rule, cfg.rule_args)


def gold_features(base: Features, kinds: dict[str, str]) -> Features:
    """The gold dataset's schema: the snapshot's fields and metadata plus gold and provenance columns."""
    feats = {k: v for k, v in base.items() if k not in DROP_COLUMNS}
    for question, kind in kinds.items():
        feats[C.GOLD_PREFIX + question] = SPAN_FEATURE if kind == "span" else \
            List(Value("string")) if kind == "multi_label" else Value("string")
    for col in (C.GOLD_STATUS, C.DECIDED_BY, C.DECIDED_AT, C.DECISION_RULE, C.GOLD_PROVENANCE):
        feats[col] = Value("string")
    feats[C.ANNOTATION_COUNT] = Value("int64")
    return Features(feats)


def _gold_columns(record: RecordAnswers, kinds: dict[str, str], decide: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    for question, kind in kinds.items():
        answers = span_answers(record, question) if kind == "span" else record.answers.get(question, [])
        decision = decide(kind, answers) if answers else None
        out[C.GOLD_PREFIX + question] = None if decision is None else decision.value
        provenance[question] = {
            "answers": {a.user: a.value for a in answers}, "kind": kind,
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
    values: dict[str, list[Any]] = {}
    for record in records:
        for question, answers in record.answers.items():
            values.setdefault(question, []).extend(a.value for a in answers)
    kinds = {q: answer_kind(q, v) for q, v in sorted(values.items())}
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
        count = sum(1 for r in row.get(C.ANNOTATIONS) or [] if r.get("status") == "submitted")
        rows.append({**base, **gold, C.ANNOTATION_COUNT: count})
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


def feature_kind(feature: Any) -> str:
    """'span', 'multi_label' or 'label' from a gold column's feature (datasets 5 `List`, `Sequence` or a list)."""
    inner = feature[0] if isinstance(feature, list) and feature else getattr(feature, "feature", None)
    if inner is None:
        return "label"
    return "span" if isinstance(inner, dict) and "start" in inner else "multi_label"


def answer_kind(question: str, values: list[Any]) -> str:
    """The kind of a question from its answers; a list of plain strings is a multi-label answer, not spans."""
    lists = [v for v in values if isinstance(v, list) and v]
    if lists and all(isinstance(x, str) for v in lists for x in v):
        return "multi_label"
    return question_kind(question, values)


def _kinds_of(gold: Dataset, provenance: dict[str, Any]) -> dict[str, str]:
    """question -> kind: recorded in the provenance, else read from the gold column's feature."""
    return {q: p.get("kind") or feature_kind(gold.features.get(C.GOLD_PREFIX + q)) for q, p in provenance.items()}


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _md(text: str) -> str:
    """Text shown verbatim in an Argilla markdown field (HTML and markdown characters escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def marked_text(text: str, spans: list[tuple[str, int, int]]) -> str:
    """The prompt as markdown with each span highlighted and its label after it (overlaps listed, not nested)."""
    out, at = [], 0
    for label, start, end in sorted(spans, key=lambda s: (s[1], s[2])):
        if start < at or not 0 <= start < end <= len(text):
            continue
        out += [_md(text[at:start]), f'<mark title="{html.escape(label)}">{_md(text[start:end])}</mark>'
                f"<sup>{html.escape(label)}</sup>"]
        at = end
    return "".join([*out, _md(text[at:])])


def _show(value: Any, kind: str) -> str:
    if kind == "span":
        return "; ".join(f"{lab} \u201c{s}-{e}\u201d" for lab, s, e in span_tuples(value)) or "(no spans)"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return str(value) if str(value).strip() else "(empty)"


def annotator_views(prompt: str, provenance: dict[str, Any], kinds: dict[str, str]) -> dict[str, str]:
    """user -> markdown: the prompt with that annotator's spans highlighted, then each of their other answers."""
    users = sorted({u for p in provenance.values() for u in p.get("answers", {})})
    views = {}
    for user in users:
        lines = [f"**{_md(user)}**", ""]
        for question, p in provenance.items():
            if user not in p.get("answers", {}):
                continue
            value = p["answers"][user]
            flag = " \u26a0 disputed" if p["status"] == NEEDS_REVIEW else ""
            if kinds.get(question) == "span":
                lines += ["", f"*{_md(question)}*{flag}:", "", "> " + marked_text(prompt, span_tuples(value)), ""]
            else:
                lines.append(f"- *{_md(question)}*{flag}: **{_md(_show(value, kinds.get(question, 'label')))}**")
        views[user] = "\n".join(lines).strip()
    return views


def vote_summary(provenance: dict[str, Any], kinds: dict[str, str], prompt: str) -> str:
    """Markdown: for each disputed question the votes per answer, and whether the pre-fill is a majority or none."""
    lines = []
    for question, p in provenance.items():
        if p["status"] != NEEDS_REVIEW:
            continue
        answers = p["answers"]
        n = len(answers)
        if kinds.get(question) == "span":
            votes = Counter(s for v in answers.values() for s in span_tuples(v))
            items = [f"{lab} \u201c{_md(prompt[s:e])}\u201d {votes[(lab, s, e)]}/{n}"
                     for lab, s, e in sorted(votes, key=lambda t: (t[1], t[2]))]
            lines.append(f"- **{_md(question)}**: " + ("; ".join(items) or "no spans") +
                         " \u2014 pre-filled: spans marked by at least half")
        else:
            votes = Counter(_show(v, kinds.get(question, "label")) for v in answers.values())
            top = votes.most_common()
            tie = len(top) > 1 and top[0][1] == top[1][1]
            lines.append(f"- **{_md(question)}**: " + ", ".join(f"{_md(k)} {c}/{n}" for k, c in top) +
                         (" \u2014 **tie: not pre-filled, choose**" if tie or 2 * top[0][1] <= n
                          else " \u2014 pre-filled: the majority"))
    return "\n".join(lines)


def _info(row: dict[str, Any]) -> str:
    cells = [(k, row.get(k)) for k in REVIEW_INFO if row.get(k) not in (None, "")]
    return "\n".join(f"- {k}: {round(v, 3) if isinstance(v, float) else _md(str(v))}" for k, v in cells)


def _suggestion(question: str, kind: str, p: dict[str, Any], gold_value: Any) -> dict[str, Any] | None:
    """The pre-fill of one question: decided gold as is; disputed spans voted by at least half; a disputed label
    only with a strict majority (never on a tie)."""
    answers = p.get("answers") or {}
    if p["status"] == GOLD:
        if gold_value is None or (kind == "span" and not gold_value):
            return None
        return {"value": gold_value, "score": [1.0] * len(gold_value) if kind == "span" else 1.0,
                "agent": f"gold:{agent_name(p.get('rule', 'rule'))}"}
    if p["status"] != NEEDS_REVIEW or not answers:
        return None
    agent = "annotators: " + " ".join(agent_name(u) for u in sorted(answers))  # Argilla agents allow no commas
    n = len(answers)
    if kind == "span":
        votes = Counter(s for v in answers.values() for s in span_tuples(v))
        kept = sorted((s for s, c in votes.items() if 2 * c >= n), key=lambda t: (t[1], t[2]))
        if not kept:
            return None
        return {"value": [{"label": lab, "start": s, "end": e} for lab, s, e in kept],
                "score": [votes[s] / n for s in kept], "agent": agent}
    if kind == "multi_label":
        votes = Counter(json.dumps(sorted(map(str, v))) for v in answers.values())
    else:
        votes = Counter(str(v) for v in answers.values())
    (top, count), *rest = votes.most_common()
    if 2 * count <= n or (rest and rest[0][1] == count):
        return None
    return {"value": json.loads(top) if kind == "multi_label" else top, "score": count / n, "agent": agent}


def review_records(open_items: list[dict[str, Any]], kinds: dict[str, str], asked: list[str] | None = None,
                   slots: int | None = None) -> list[dict[str, Any]]:
    """Records for review: the prompt, the model response, each annotator's answers as a markdown field (spans
    highlighted), the vote counts, metadata, and suggestions (majority pre-fill; ties left empty), as the dicts
    `curation.annotate.review.push_review_records` upserts."""
    records = []
    for item in open_items:
        row = item["row"]
        provenance = json.loads(row[C.GOLD_PROVENANCE])
        prompt = row.get(C.PROMPT) or ""
        views = list(annotator_views(prompt, provenance, kinds).values())
        if slots and len(views) > slots:  # an existing dataset with fewer annotator fields: the last one holds more
            views = [*views[:slots - 1], "\n\n---\n\n".join(views[slots - 1:])]
        fields = {C.PROMPT: prompt, VOTES_FIELD: vote_summary(provenance, kinds, prompt) or "-",
                  INFO_FIELD: _info(row) or "-",
                  **{f"{ANNOTATOR_FIELD}_{i + 1}": v for i, v in enumerate(views)}}
        if (row.get(C.RESPONSE) or "").strip():
            fields[C.RESPONSE] = row[C.RESPONSE]
        suggestions = {}
        for question in asked or [q for q, p in provenance.items() if p["status"] == NEEDS_REVIEW]:
            if question not in provenance:
                continue
            made = _suggestion(question, kinds[question], provenance[question], row.get(C.GOLD_PREFIX + question))
            if made:
                suggestions[question] = made
        metadata = {k: row[k] for k in REVIEW_METADATA if row.get(k) not in (None, "")}
        metadata[OPEN_QUESTIONS] = ",".join(q for q, p in provenance.items() if p["status"] == NEEDS_REVIEW)
        records.append({"id": row[C.ID], "fields": fields, "suggestions": suggestions, "metadata": metadata})
    return records


def review_guidelines() -> str:
    """The reviewers' guidelines (annotation_schemas/adjudication_review.md)."""
    from curation.annotate.schemas import schema_dirs

    for folder in schema_dirs():
        path = folder / REVIEW_GUIDELINES
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return "Adjudicate: the annotators disagreed. Give the final answer to each disputed question."


def review_schema(asked: list[str], kinds: dict[str, str], labels: dict[str, list[str]], slots: int,
                  gold: Dataset) -> AnnotationSchema:
    """The review dataset's schema: one optional question per disputed question, a required `reviewed`, the
    prompt, response, votes, one field per annotator and the record's metadata."""
    questions: list[dict[str, Any]] = []
    for q in asked:
        kind = kinds[q]
        if kind == "span":
            questions.append({"type": "span", "name": q, "field": C.PROMPT, "labels": labels[q] or ["span"],
                              "allow_overlapping": True, "required": False,
                              "title": f"{q}: final spans (pre-filled: marked by at least half)"})
        elif kind == "multi_label":
            questions.append({"type": "multi_label", "name": q, "labels": labels[q], "required": False,
                              "title": f"{q}: final answer"})
        else:
            questions.append({"type": "label", "name": q, "labels": labels[q], "required": False,
                              "title": f"{q}: final answer (empty on a tie)"})
    questions.append({"type": "label", "name": REVIEWED_QUESTION, "labels": {"done": "done",
                                                                             "unsure": "unsure, discuss"},
                      "required": True, "title": "Reviewed (Argilla needs one required question)"})
    fields = [{"name": C.PROMPT, "title": "Prompt"},
              {"name": C.RESPONSE, "title": "Model response", "required": False},
              {"name": VOTES_FIELD, "title": "Votes", "use_markdown": True},
              *[{"name": f"{ANNOTATOR_FIELD}_{i + 1}", "title": f"Annotator {i + 1}", "use_markdown": True,
                 "required": i == 0} for i in range(slots)],
              {"name": INFO_FIELD, "title": "Record metadata", "use_markdown": True}]
    metadata = [{"type": "terms", "name": OPEN_QUESTIONS, "title": "Disputed questions"}]
    for name in REVIEW_METADATA:
        if name in gold.column_names:
            metadata.append({"type": "float" if name in REVIEW_FLOAT_METADATA else "terms", "name": name,
                             "title": name})
    return AnnotationSchema(name=REVIEW, guidelines=review_guidelines(), fields=fields, questions=questions,
                            metadata=metadata, min_submitted=1)


def push_review(gold: Dataset, client: Any, name: str, workspace_name: str = REVIEW_WORKSPACE,
                source_workspace: str = "argilla", reviewers: list[str] | None = None) -> tuple[str, int]:
    """Create (or update) the Argilla review dataset with every disagreement in the reviewers' workspace
    (annotators are not members, so they cannot see it); returns (dataset name, records)."""
    from curation.annotate.review import push_review_records, question_labels

    open_items = disagreements(gold)
    review_name = review_dataset_name(gold, name)
    if not open_items:
        return review_name, 0
    kinds = _kinds_of(gold, json.loads(open_items[0]["row"][C.GOLD_PROVENANCE]))
    asked = sorted({q for item in open_items for q in item["questions"]})
    base = gold[0].get(C.ARGILLA_DATASET) if C.ARGILLA_DATASET in gold.column_names else None
    labels = question_labels(client, base, source_workspace) if base else {}  # reviewers see every option
    for item in open_items:
        for q, answers in item["questions"].items():
            seen = [lab for v in answers.values() for lab in
                    ([s[0] for s in span_tuples(v)] if kinds[q] == "span" else
                     [str(x) for x in v] if isinstance(v, list) else [str(v)])]
            labels[q] = list(dict.fromkeys([*labels.get(q, []), *seen]))
    slots = max(2, max(len({u for p in json.loads(i["row"][C.GOLD_PROVENANCE]).values() for u in p["answers"]})
                       for i in open_items))

    def records(fields: list[str], questions: list[str]) -> list[dict[str, Any]]:
        """The records for the dataset as it is on the server (an existing one keeps its annotator slots)."""
        return review_records(open_items, kinds, [q for q in questions if q in kinds],
                              sum(1 for f in fields if f.startswith(f"{ANNOTATOR_FIELD}_")))

    push_review_records(client, review_name, workspace_name, review_schema(asked, kinds, labels, slots, gold),
                        records, reviewers or [])
    return review_name, len(open_items)


def reviewer_answers(review: Dataset, reviewers: set[str]) -> tuple[Dataset, dict[str, int]]:
    """The review snapshot keeping only responses of `reviewers`; also {ignored user: responses}."""
    ignored: Counter[str] = Counter()

    def keep(row: dict[str, Any]) -> dict[str, Any]:
        kept = []
        for r in row.get(C.ANNOTATIONS) or []:
            if r.get("user") in reviewers:
                kept.append(r)
            elif r.get("status") == "submitted":
                ignored[r.get("user") or "?"] += 1
        return {C.ANNOTATIONS: kept}

    rows = [keep(row) for row in review.select_columns([C.ANNOTATIONS])]
    filtered = review.remove_columns([C.ANNOTATIONS]).add_column(C.ANNOTATIONS, [r[C.ANNOTATIONS] for r in rows],
                                                               feature=review.features[C.ANNOTATIONS])
    return filtered, dict(ignored)


def _normalize(value: Any, kind: str) -> Any:
    if kind == "span":
        return [{"label": lab, "start": s, "end": e} for lab, s, e in span_tuples(value)]
    if kind == "multi_label":
        return sorted(str(x) for x in (value if isinstance(value, list) else [value]))
    return value if kind == "text" else str(value)


def merge_review(gold: Dataset, review: Dataset, review_name: str = REVIEW) -> Dataset:
    """Apply the reviewers' submitted answers (latest wins) to the open questions of `gold`; only questions that
    were open for a record change (answers to the pre-filled, already decided questions are ignored)."""
    if len(review) == 0:
        raise InputError(f"review snapshot '{review_name}' is empty", "answer the review dataset in Argilla first")
    decisions: dict[str, dict[str, Any]] = {}
    kinds: dict[str, str] = {}
    for row in gold:
        if row[C.GOLD_STATUS] == NEEDS_REVIEW:
            kinds.update({q: k for q, k in _kinds_of(gold, json.loads(row[C.GOLD_PROVENANCE])).items()
                          if q not in kinds})
    for row in review:
        record = parse_record(row)
        for question, answers in record.answers.items():
            if question == REVIEWED_QUESTION:
                continue
            latest = max(answers, key=lambda a: a.updated_at)
            value = _normalize(latest.value, kinds.get(question) or answer_kind(question, [latest.value]))
            decisions.setdefault(record.record_id, {})[question] = {
                "value": value, "decided_by": [latest.user], "decided_at": latest.updated_at or _now(), "rule": REVIEW}
        submitted = {a.user: a for answers in record.answers.values() for a in answers}
        for question, kind in kinds.items():  # a submitted review that left a span question empty means no spans
            if kind == "span" and submitted and question not in record.answers:
                latest = max(submitted.values(), key=lambda a: a.updated_at)
                decisions.setdefault(record.record_id, {})[question] = {
                    "value": [], "decided_by": [latest.user], "decided_at": latest.updated_at or _now(),
                    "rule": REVIEW}
    rows = [_apply_review(dict(row), decisions[row[C.ID]], kinds) if row[C.ID] in decisions else dict(row)
            for row in gold]
    return Dataset.from_list(rows, features=gold.features)


def _now() -> str:
    return datetime.now(UTC).isoformat()
