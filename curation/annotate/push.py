"""Push a pipeline dataset to Argilla: records keyed by content-hash id, with suggestions, metadata and vectors.

Records are upserted by `external_id` = the dataset's `id`, so a re-push updates and never duplicates, keeps
existing responses, and an interrupted push is finished by running it again. Suggestions come from registered
suggesters, one per question name (`suggesters`), so a new schema question gets a new function, not an `elif`.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import catalogue
from datasets import Dataset

from .. import columns as C
from ..errors import InputError, ServiceError
from .schemas import AnnotationSchema, SpanQuestionSpec, load_schema_model

DEFAULT_BATCH_SIZE = 250
MAX_BATCH_SIZE = 500  # argilla-server's bulk upsert limit
suggesters = catalogue.create("curation", "annotate_suggesters")
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


# suggesters: (row, question spec, schema) -> {"value", "score", "agent"} or None -------------------------------
@suggesters.register("trigger_spans")
def suggest_trigger_spans(row: dict[str, Any], question: Any, schema: AnnotationSchema) -> dict[str, Any] | None:
    """The heuristic spans combined: in-range, known labels, overlaps resolved by score; per-span scores."""
    spans = row.get(C.TRIGGER_SPANS)
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


@suggesters.register("harmfulness")
def suggest_harmfulness(row: dict[str, Any], question: Any, schema: AnnotationSchema) -> dict[str, Any] | None:
    """The dataset's own harmful/benign label; score from p_refuse when the boundary stage ran."""
    label = row.get(C.LABEL)
    if label not in ("harmful", "benign") or label not in question.labels:
        return None
    p_refuse = row.get(C.P_REFUSE)
    score = None
    if _present(p_refuse):
        score = _clip01(p_refuse) if label == "harmful" else 1.0 - _clip01(p_refuse)
    return {"value": label, "score": score, "agent": agent_name(f"label:{row.get(C.SOURCE) or 'dataset'}")}


def _refusal_suggestion(row: dict[str, Any], yes: str, no: str) -> dict[str, Any] | None:
    p_refuse = row.get(C.P_REFUSE)
    if _present(p_refuse):
        p = _clip01(p_refuse)
        return {"value": yes if p >= 0.5 else no, "score": max(p, 1.0 - p),
                "agent": agent_name(row.get(C.SCORER) or "boundary_probe")}
    judge = row.get(C.JUDGE_LABEL)
    if judge in ("full_refusal", "partial_refusal", "full_compliance"):
        score = row.get(C.JUDGE_SCORE)
        return {"value": no if judge == "full_compliance" else yes,
                "score": _clip01(score) if _present(score) else None,
                "agent": agent_name(row.get(C.JUDGE_NAME) or "judge")}
    return None


@suggesters.register("should_refuse")
def suggest_should_refuse(row: dict[str, Any], question: Any, schema: AnnotationSchema) -> dict[str, Any] | None:
    """yes/no from the boundary probe's p_refuse, else from the refusal judge's label."""
    return _refusal_suggestion(row, "yes", "no")


@suggesters.register("decision")
def suggest_decision(row: dict[str, Any], question: Any, schema: AnnotationSchema) -> dict[str, Any] | None:
    """answer/refuse for boundary review, from p_refuse or the judge."""
    return _refusal_suggestion(row, "refuse", "answer")


# records ---------------------------------------------------------------------------------------------------------
def _metadata(row: dict[str, Any], schema: AnnotationSchema) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for prop in schema.metadata:
        value = row.get(prop.name)
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
                 vectors: dict[str, list[float]], makers: dict[str, Callable] | None = None) -> dict[str, Any]:
    """One record as the bulk-upsert JSON body expects it (fields, metadata, suggestions, vectors)."""
    makers = makers if makers is not None else suggesters.get_all()
    fields = {f.name: str(row[f.name]) for f in schema.fields if _present(row.get(f.name))}
    suggestions = []
    for question in schema.questions:
        maker = makers.get(question.name)
        made = maker(row, question, schema) if maker else None
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
            from ..embeddings import embed, get_encoder

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


def _question_ids(client: Any, dataset: Any) -> dict[str, str]:
    from .client import raw_request

    body = raw_request(client, "GET", f"/api/v1/datasets/{dataset.id}/questions")
    return {q["name"]: q["id"] for q in body["items"]}


BULK_TIMEOUT = 300.0  # a busy server (annotators plus a push on 2 cores) can take minutes for one batch
BULK_ATTEMPTS = 3


def _upsert(client: Any, dataset: Any, records: list[dict[str, Any]], done: int, total: int) -> None:
    import httpx

    url = f"/api/v1/datasets/{dataset.id}/records/bulk"
    for attempt in range(1, BULK_ATTEMPTS + 1):
        try:
            resp = client.http_client.put(url, json={"items": records}, timeout=BULK_TIMEOUT)
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
                 on_batch: Callable[[int, int], None] | None = None) -> Any:
    """Create or update the Argilla dataset `dataset_name` and upsert one record per row; returns the rg.Dataset.

    Reads columns id, the schema's fields (prompt, response...), label, trigger_spans, p_refuse, judge_label and
    the schema's metadata names; absent columns are skipped. `on_batch(done, total)` is called after each batch.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    spec = load_schema_model(schema)
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InputError(f"batch size {batch_size} is out of range", f"use 1..{MAX_BATCH_SIZE}")
    _check_columns(ds, spec)
    dataset = ensure_dataset(client, spec, dataset_name, workspace_name, min_submitted)
    if len(ds) == 0:
        return dataset
    question_ids = _question_ids(client, dataset)
    vectors = _vectors(ds, spec, encoder, vector_cache, show_progress and len(ds) > 1000)
    wanted = [c for c in ds.column_names if c not in vectors]
    rows = ds.select_columns(wanted)
    seen: set[str] = set()
    makers = suggesters.get_all()
    total = len(ds)
    progress = Progress(TextColumn(f"push to {dataset_name}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), disable=not show_progress, transient=True)
    with progress:
        task = progress.add_task("push", total=total)
        done = 0
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
                batch.append(build_record(row, spec, question_ids, vec, makers))
            if batch:
                _upsert(client, dataset, batch, done, total)
            done += len(chunk[C.ID])
            progress.update(task, completed=done)
            if on_batch:
                on_batch(done, total)
    return dataset


def _as_list(vector: Any) -> list[float]:
    return vector.tolist() if hasattr(vector, "tolist") else [float(x) for x in vector]


@suggesters.register("refusal_label")
def suggest_refusal_label(row: dict[str, Any], question: Any, schema: AnnotationSchema) -> dict[str, Any] | None:
    """response_review: the refusal judge's three-way label as the suggestion, its score as the confidence."""
    label = row.get(C.JUDGE_LABEL)
    if label not in C.JUDGE_LABELS or label not in question.labels:
        return None
    score = row.get(C.JUDGE_SCORE)
    return {"value": label, "score": _clip01(score) if _present(score) else None,
            "agent": agent_name(row.get(C.JUDGE_NAME) or "judge")}
