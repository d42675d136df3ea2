"""Push a pipeline dataset to Argilla: records keyed by content-hash id, with suggestions, metadata and vectors.

Records are upserted by `external_id` = the dataset's `id`, so a re-push updates and never duplicates, keeps
existing responses, and an interrupted push is finished by running it again. Suggestions come from registered
suggesters, one per question name (`curation.core.registry.suggesters`, e.g.
`trigger_spans.v1`), so a new schema question gets a new function, not an `elif`.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from datasets import Dataset
from pydantic import BaseModel, ConfigDict, Field

from curation.annotate.schemas import AnnotationSchema, SpanQuestionSpec, load_schema_model
from curation.core import columns as C
from curation.core.errors import InputError, ServiceError
from curation.core.registry import suggesters

UNCERTAINTY = "uncertainty"
DEFAULT_BATCH_SIZE = 250
MAX_BATCH_SIZE = 500  # argilla-server's bulk upsert limit
_AGENT_BAD = re.compile(r"[^a-zA-Z0-9\-_:./]+")


def agent_name(name: Any) -> str:
    """An agent name Argilla accepts (letters, digits, - _ : . /); anything else becomes '_'."""
    cleaned = _AGENT_BAD.sub("_", str(name)).strip("_")
    return cleaned[:150] or "unknown"


def join_agents(agents: Iterable[Any]) -> str:
    """Agents of a combined suggestion, space-joined (Argilla rejects commas; pull turns spaces back into commas)."""
    return " ".join(sorted({agent_name(a) for a in agents if a})) or "heuristics"


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and not value.strip())


def _clip01(value: Any, default: float = 1.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(number) else min(1.0, max(0.0, number))


# which suggestions are pre-filled ---------------------------------------------------------------------------------
CUE_LABELS = ("harmful_cue", "benign_homonym")
DEFAULT_MIN_SPAN_SCORE = 0.6  # smallest with label precision >= 0.8 on the dev set, see docs/human-review.md


class SuggestConfig(BaseModel):
    """What push pre-fills: the prompt's likeliest cue span, further cue spans above a calibrated score, and label
    suggestions that agree with each other."""

    model_config = ConfigDict(extra="forbid")

    min_span_score: float = Field(DEFAULT_MIN_SPAN_SCORE, ge=0.0, le=1.0,
                                  description="Spans scoring below this are not pre-filled (except the top cue, "
                                              "see top_cue).")
    top_cue: bool = Field(True, description="Pre-fill the prompt's likeliest cue span whatever its score: the "
                                            "triggers stage labels a span a cue only after its prompt-level "
                                            "decision that the prompt holds one (docs/triggers.md).")
    span_labels: list[str] = Field(default_factory=lambda: list(CUE_LABELS),
                                   description="Span labels pre-filled; add target/context to pre-fill those too.")


def filter_spans(spans: Iterable[dict[str, Any]], cfg: SuggestConfig) -> list[dict[str, Any]]:
    """The spans worth pre-filling: the top cue (when `top_cue`) and wanted labels at or above the score; none at
    all without a cue span."""
    spans = [s for s in spans if s.get("label") in cfg.span_labels]
    cues = [s for s in spans if s["label"] in CUE_LABELS]
    top = max(cues, key=lambda s: _clip01(s.get("score"), 0.0)) if cues and cfg.top_cue else None
    kept = [s for s in spans if s is top or _clip01(s.get("score"), 0.0) >= cfg.min_span_score]
    return kept if any(s["label"] in CUE_LABELS for s in kept) else []


# suggesters: (row, question spec, schema, config) -> {"value", "score", "agent"} or None ----------------------
@suggesters.register("trigger_spans.v1")
def suggest_trigger_spans(row: dict[str, Any], question: Any, schema: AnnotationSchema,
                          cfg: SuggestConfig | None = None) -> dict[str, Any] | None:
    """Cue spans above the configured score, in range with known labels, overlaps resolved by score."""
    spans = filter_spans(row.get(C.TRIGGER_SPANS) or [], cfg or SuggestConfig())
    if not spans or not isinstance(question, SpanQuestionSpec):
        return None
    text = row.get(question.field) or ""
    labels = set(question.labels)
    valid = []
    for span in spans:
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        if label not in labels or start is None or end is None or not 0 <= int(start) < int(end) <= len(text):
            continue
        valid.append({"start": int(start), "end": int(end), "label": label, "score": _clip01(span.get("score")),
                      "agents": list(span.get("agents") or [])})
    if not question.allow_overlapping:
        kept: list[dict[str, Any]] = []
        for span in sorted(valid, key=lambda s: (-s["score"], s["start"])):
            if all(span["end"] <= k["start"] or span["start"] >= k["end"] for k in kept):
                kept.append(span)
        valid = kept
    if not valid:
        return None
    valid.sort(key=lambda s: (s["start"], s["end"]))
    return {"value": [{"label": s["label"], "start": s["start"], "end": s["end"]} for s in valid],
            "score": [s["score"] for s in valid],
            "agent": join_agents(a for s in valid for a in s["agents"])}


def harm_verdict(row: dict[str, Any]) -> tuple[bool, float | None, str] | None:
    """(harmful?, P(that verdict) or None, agent) shared by every label suggestion of a row, so they agree: the
    dataset's own label when it has one (scored by the calibrated p_refuse), else p_refuse alone. The refusal
    judge says what the model did, not what it should do, so it never suggests."""
    label, p_refuse = row.get(C.LABEL), row.get(C.P_REFUSE)
    p = _clip01(p_refuse) if _present(p_refuse) else None
    if label in ("harmful", "benign"):
        harmful = label == "harmful"
        score = None if p is None else (p if harmful else 1.0 - p)
        return harmful, score, agent_name(f"label:{row.get(C.SOURCE) or 'dataset'}")
    if p is None:
        return None
    return p >= 0.5, max(p, 1.0 - p), agent_name(row.get(C.SCORER) or "boundary_probe")


def _verdict_suggestion(row: dict[str, Any], question: Any, yes: str, no: str) -> dict[str, Any] | None:
    verdict = harm_verdict(row)
    if verdict is None:
        return None
    harmful, score, agent = verdict
    value = yes if harmful else no
    if value not in question.labels:
        return None
    return {"value": value, "score": None if score is None else round(score, 4), "agent": agent}


@suggesters.register("harmfulness.v1")
def suggest_harmfulness(row: dict[str, Any], question: Any, schema: AnnotationSchema,
                        cfg: SuggestConfig | None = None) -> dict[str, Any] | None:
    """harmful/benign from the shared verdict (never 'ambiguous')."""
    return _verdict_suggestion(row, question, "harmful", "benign")


@suggesters.register("should_refuse.v1")
def suggest_should_refuse(row: dict[str, Any], question: Any, schema: AnnotationSchema,
                          cfg: SuggestConfig | None = None) -> dict[str, Any] | None:
    """yes exactly when harmfulness is suggested harmful (same verdict, same score)."""
    return _verdict_suggestion(row, question, "yes", "no")


@suggesters.register("decision.v1")
def suggest_decision(row: dict[str, Any], question: Any, schema: AnnotationSchema,
                     cfg: SuggestConfig | None = None) -> dict[str, Any] | None:
    """refuse/answer for boundary review, from the same verdict."""
    return _verdict_suggestion(row, question, "refuse", "answer")


@suggesters.register("rewrite_edited.v1")
def suggest_rewrite_edited(row: dict[str, Any], question: Any, schema: AnnotationSchema,
                           cfg: SuggestConfig | None = None) -> dict[str, Any] | None:
    """deharm_review: the rewrite itself, so the reviewer's edit box starts filled (the build uses the edit)."""
    text = row.get("rewrite")
    return {"value": str(text), "agent": agent_name(row.get("method") or "deharm")} if _present(text) else None


@suggesters.register("answer_edited.v1")
def suggest_answer_edited(row: dict[str, Any], question: Any, schema: AnnotationSchema,
                          cfg: SuggestConfig | None = None) -> dict[str, Any] | None:
    """deharm_review: the model's answer, pre-filled for editing."""
    text = row.get("answer")
    return {"value": str(text), "agent": agent_name(row.get(C.GENERATED_BY) or "model")} if _present(text) else None


# records ---------------------------------------------------------------------------------------------------------
def _metadata(row: dict[str, Any], schema: AnnotationSchema) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for prop in schema.metadata:
        value = row.get(prop.name)
        if prop.name == UNCERTAINTY and not _present(value) and _present(row.get(C.P_REFUSE)):
            value = 1.0 - abs(2.0 * _clip01(row[C.P_REFUSE]) - 1.0)  # 1 at p_refuse 0.5, 0 at 0 or 1
        if not _present(value):
            continue
        if prop.type == "terms":
            value = str(value)
            if prop.options and value not in prop.options:
                continue
        elif prop.type == "float":
            value = float(value)
        else:
            value = int(value)
        meta[prop.name] = value
    return meta


def build_record(row: dict[str, Any], schema: AnnotationSchema, question_ids: dict[str, str],
                 vectors: dict[str, list[float]], makers: dict[str, Callable] | None = None,
                 suggest: SuggestConfig | None = None) -> dict[str, Any]:
    """One record as the bulk-upsert JSON body expects it (fields, metadata, suggestions, vectors)."""
    makers = makers if makers is not None else suggesters.latest()
    suggest = suggest or SuggestConfig()
    fields = {f.name: str(row[f.name]) for f in schema.fields if _present(row.get(f.name))}
    suggestions = []
    for question in schema.questions:
        maker = makers.get(question.name)
        made = maker(row, question, schema, suggest) if maker else None
        if made:
            suggestions.append({"question_id": question_ids[question.name], "type": "model",
                                **{k: v for k, v in made.items() if v is not None}})
    record = {"external_id": str(row[C.ID]), "fields": fields, "metadata": _metadata(row, schema),
              "suggestions": suggestions}
    if vectors:
        record["vectors"] = vectors
    return record


def _check_columns(ds: Dataset, schema: AnnotationSchema) -> None:
    required = {C.ID} | {f.name for f in schema.fields if f.required}
    missing = sorted(required - set(ds.column_names))
    if missing:
        raise InputError(f"annotate push: schema '{schema.name}' needs column(s) {', '.join(missing)}",
                         f"the dataset has: {', '.join(ds.column_names)}")


def _vectors(ds: Dataset, schema: AnnotationSchema, encoder: Any, cache: Any, show: bool) -> dict[str, Any]:
    """Vectors per schema vector: the column of that name, else embeddings of its source field (cached)."""
    out: dict[str, Any] = {}
    for spec in schema.vectors:
        if spec.name in ds.column_names:
            values = ds[spec.name]
        elif spec.source_field and spec.source_field in ds.column_names:
            from curation.models.embeddings import embed, get_encoder

            enc = encoder or get_encoder()
            values = embed([t or "" for t in ds[spec.source_field]], enc, cache, show_progress=show)
        else:
            continue
        first = next((v for v in values if v is not None), None)
        if first is not None and len(first) != spec.dimensions:
            raise InputError(f"annotate push: vector '{spec.name}' has {len(first)} dimensions, the schema "
                             f"'{schema.name}' expects {spec.dimensions}",
                             "embed with the schema's model (MiniLM, 384-d) or edit the schema")
        out[spec.name] = values
    return out


# the dataset on the server ---------------------------------------------------------------------------------------
def ensure_workspace(client: Any, name: str) -> Any:
    import argilla as rg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK warns when the workspace does not exist yet
        ws = client.workspaces(name)
    if ws is None:
        ws = rg.Workspace(name=name, client=client).create()
    return ws


def ensure_dataset(client: Any, schema: AnnotationSchema, dataset_name: str, workspace_name: str,
                   min_submitted: int) -> Any:
    """Get the Argilla dataset (checking it matches the schema) or create it; align its task distribution."""
    import argilla as rg

    ensure_workspace(client, workspace_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK warns when the dataset does not exist yet
        dataset = client.datasets(name=dataset_name, workspace=workspace_name)
    if dataset is not None and str(getattr(dataset._model.status, "value", dataset._model.status)) == "draft":
        dataset.delete()  # a create interrupted before publishing: start it again
        dataset = None
    if dataset is None:
        settings = schema.to_settings(min_submitted, client)
        return rg.Dataset(name=dataset_name, workspace=workspace_name, settings=settings, client=client).create()
    have = {q.name for q in dataset.settings.questions}
    want = {q.name for q in schema.questions}
    if have != want:
        raise InputError(f"Argilla dataset '{dataset_name}' exists with questions {sorted(have)}, not the "
                         f"'{schema.name}' schema's {sorted(want)}", "push to a new name with --to")
    distribution = dataset.settings.distribution
    if distribution is None or distribution.min_submitted != min_submitted:
        dataset.settings.distribution = rg.TaskDistribution(min_submitted=min_submitted)
        try:
            dataset.update()
        except Exception as err:  # noqa: BLE001 - the SDK wraps HTTP errors in several types
            raise InputError(f"cannot change min_submitted of '{dataset_name}' to {min_submitted}: "
                             f"{str(err).splitlines()[0][:200]}",
                             "Argilla only allows it before annotation starts; push to a new name") from None
    return dataset


def question_ids(client: Any, dataset: Any) -> dict[str, str]:
    """question name -> question id of an Argilla dataset (the bulk upsert addresses suggestions by id)."""
    from curation.annotate.client import raw_request

    body = raw_request(client, "GET", f"/api/v1/datasets/{dataset.id}/questions")
    return {q["name"]: q["id"] for q in body["items"]}


# the bulk answer echoes every record (vectors included); compressing it costs the server more than it saves on
# localhost, so the push asks for it uncompressed (httpx would ask for brotli when installed)
PUSH_HEADERS = {"Accept-Encoding": "identity"}
BULK_TIMEOUT = 300.0  # a busy server (annotators plus a push on 2 cores) can take minutes for one batch
BULK_ATTEMPTS = 3


def upsert_records(client: Any, dataset: Any, records: list[dict[str, Any]], done: int = 0,
                   total: int | None = None) -> None:
    """Upsert one batch of records (bulk-upsert JSON bodies, see `build_record`) into `dataset`, by id or
    external id; a busy server is retried, errors name how far the push got (`done` of `total`)."""
    import httpx

    total = len(records) if total is None else total
    url = f"/api/v1/datasets/{dataset.id}/records/bulk"
    for attempt in range(1, BULK_ATTEMPTS + 1):
        try:
            resp = client.http_client.put(url, json={"items": records}, timeout=BULK_TIMEOUT,
                                          headers=PUSH_HEADERS)
            break
        except httpx.HTTPError as err:  # a timeout means busy, not down: the upsert is idempotent, send it again
            if isinstance(err, httpx.TimeoutException) and attempt < BULK_ATTEMPTS:
                continue
            raise ServiceError(f"push to '{dataset.name}' stopped after {done} of {total} records: Argilla at "
                               f"{client.api_url} is unreachable ({type(err).__name__})",
                               "start it (`curate server start`) and run the same push again: records are upserted "
                               "by id, nothing is lost or duplicated") from None
    if resp.status_code == 422:
        raise InputError(f"Argilla rejected records {done}-{done + len(records)} of the push to '{dataset.name}': "
                         f"{resp.text[:300]}", "fix those rows and push again")
    if resp.status_code >= 400:
        raise ServiceError(f"push to '{dataset.name}' stopped after {done} of {total} records: HTTP "
                           f"{resp.status_code} {resp.text[:200]}", "check `curate server logs server`, then re-run")


def push_records(ds: Dataset, schema: str, dataset_name: str, client: Any, workspace_name: str = "argilla",
                 min_submitted: int = 1, batch_size: int = DEFAULT_BATCH_SIZE, *, encoder: Any = None,
                 vector_cache: Any = None, show_progress: bool = True,
                 on_batch: Callable[[int, int], None] | None = None, suggest: SuggestConfig | None = None) -> Any:
    """Create or update the Argilla dataset `dataset_name` and upsert one record per row; returns the rg.Dataset.

    Reads columns id, the schema's fields (prompt, response...), label, trigger_spans, p_refuse, judge_label and
    the schema's metadata names; absent columns are skipped. `on_batch(done, total)` is called after each batch.
    Rows go most uncertain first (p_refuse nearest 0.5); `suggest` says which suggestions are pre-filled.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    spec = load_schema_model(schema)
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InputError(f"batch size {batch_size} is out of range", f"use 1..{MAX_BATCH_SIZE}")
    _check_columns(ds, spec)
    dataset = ensure_dataset(client, spec, dataset_name, workspace_name, min_submitted)
    if len(ds) == 0:
        return dataset
    qids = question_ids(client, dataset)
    ds = most_uncertain_first(ds)
    vectors = _vectors(ds, spec, encoder, vector_cache, show_progress and len(ds) > 1000)
    wanted = [c for c in ds.column_names if c not in vectors]
    rows = ds.select_columns(wanted)
    seen: set[str] = set()
    makers = suggesters.latest()
    total = len(ds)
    progress = Progress(TextColumn(f"push to {dataset_name}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), disable=not show_progress,
                        transient=True)
    with progress:
        task = progress.add_task("push", total=total, rate="")
        done = 0
        started = time.perf_counter()
        for start in range(0, total, batch_size):
            chunk = rows[start:start + batch_size]
            batch = []
            for offset in range(len(chunk[C.ID])):
                row = {name: chunk[name][offset] for name in chunk}
                if not _present(row.get(C.ID)):
                    raise InputError(f"row {start + offset} has an empty id", "re-run `curate ingest` to assign ids")
                if row[C.ID] in seen:
                    continue
                seen.add(row[C.ID])
                vec = {name: _as_list(values[start + offset]) for name, values in vectors.items()
                       if values[start + offset] is not None}
                batch.append(build_record(row, spec, qids, vec, makers, suggest))
            if batch:
                upsert_records(client, dataset, batch, done, total)
            done += len(chunk[C.ID])
            progress.update(task, completed=done, rate=f"{done / (time.perf_counter() - started):.0f} records/s")
            if on_batch:
                on_batch(done, total)
    return dataset


def most_uncertain_first(ds: Dataset) -> Dataset:
    """Rows ordered by uncertainty (from `uncertainty`, else p_refuse), most uncertain first; stable otherwise."""
    column = UNCERTAINTY if UNCERTAINTY in ds.column_names else C.P_REFUSE if C.P_REFUSE in ds.column_names else None
    if column is None:
        return ds
    values = ds[column]
    if column == C.P_REFUSE:
        values = [None if not _present(p) else 1.0 - abs(2.0 * _clip01(p) - 1.0) for p in values]
    order = sorted(range(len(ds)), key=lambda i: (-(values[i] if _present(values[i]) else -1.0), i))
    return ds if order == list(range(len(ds))) else ds.select(order)


def _as_list(vector: Any) -> list[float]:
    return vector.tolist() if hasattr(vector, "tolist") else [float(x) for x in vector]


@suggesters.register("refusal_label.v1")
def suggest_refusal_label(row: dict[str, Any], question: Any, schema: AnnotationSchema,
                          cfg: SuggestConfig | None = None) -> dict[str, Any] | None:
    """response_review: the refusal judge's three-way label as the suggestion, its score as the confidence."""
    label = row.get(C.JUDGE_LABEL)
    if label not in C.JUDGE_LABELS or label not in question.labels:
        return None
    score = row.get(C.JUDGE_SCORE)
    return {"value": label, "score": _clip01(score) if _present(score) else None,
            "agent": agent_name(row.get(C.JUDGE_NAME) or "judge")}
