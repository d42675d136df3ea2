"""Update records already on an Argilla server: add a metadata property, rewrite the metadata and suggestions of
the records nobody has answered yet (active learning), and answer records as one annotator (simulated annotation).

Suggestions are addressed by question name here; the record bodies sent keep every field and the full metadata
(an upsert without metadata wipes it)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from curation.annotate.client import raw_request
from curation.annotate.pull import iter_raw_records
from curation.annotate.push import question_ids, upsert_records
from curation.core.errors import ServiceError

SUBMITTED = "submitted"
# (pending raw records) -> per record: {"metadata": {...}, "suggestions": [{"question": name, "value", ...}]}
Rescore = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def ensure_metadata_property(client: Any, dataset: Any, name: str, title: str, kind: str = "float",
                             minimum: float | None = None, maximum: float | None = None,
                             visible_for_annotators: bool = True) -> bool:
    """Add a metadata property (sortable and filterable in the UI) when the dataset lacks it; True when added."""
    have = raw_request(client, "GET", f"/api/v1/me/datasets/{dataset.id}/metadata-properties")["items"]
    if any(p["name"] == name for p in have):
        return False
    settings: dict[str, Any] = {"type": kind}
    if kind != "terms":
        settings.update({"min": minimum, "max": maximum})
    raw_request(client, "POST", f"/api/v1/datasets/{dataset.id}/metadata-properties",
                json={"name": name, "title": title, "settings": settings,
                      "visible_for_annotators": visible_for_annotators})
    return True


def pending_records(client: Any, dataset: Any) -> list[dict[str, Any]]:
    """The dataset's records (raw REST JSON with responses) that have no submitted response yet."""
    return [r for r in iter_raw_records(client, dataset.id, include=("responses",))
            if not any(x.get("status") == SUBMITTED for x in r.get("responses") or [])]


def _suggestion_bodies(suggestions: list[dict[str, Any]], ids: dict[str, str]) -> list[dict[str, Any]]:
    """Suggestions by question name -> the bulk body's (by question id); questions the dataset lacks are skipped."""
    return [{"question_id": ids[s["question"]], "type": "model", **{k: v for k, v in s.items() if k != "question"}}
            for s in suggestions if s["question"] in ids]


def update_pending_records(client: Any, dataset: Any, rescore: Rescore, batch_size: int = 250) -> int:
    """Give every record without a submitted response the metadata (merged over its own, NaN dropped) and the
    suggestions (replacing its own) that `rescore(records)` returns for it; returns how many were updated."""
    ids = question_ids(client, dataset)
    records = pending_records(client, dataset)
    if not records:
        return 0
    updates = rescore(records)
    done = 0
    for start in range(0, len(records), batch_size):
        batch = []
        for record, update in zip(records[start:start + batch_size], updates[start:start + batch_size], strict=True):
            metadata = {**(record.get("metadata") or {}), **update.get("metadata", {})}
            metadata = {k: v for k, v in metadata.items() if not (isinstance(v, float) and math.isnan(v))}
            batch.append({"id": record["id"], "external_id": record.get("external_id"), "fields": record["fields"],
                          "metadata": metadata, "suggestions": _suggestion_bodies(update.get("suggestions", []), ids)})
        upsert_records(client, dataset, batch, done, len(records))
        done += len(batch)
    raw_request(client, "GET", f"/api/v1/datasets/{dataset.id}/progress")  # surfaces a server error right away
    return done


def answer_pending_as(api_url: str, api_key: str, dataset_id: Any, answers: dict[str, dict[str, Any]]) -> int:
    """Answer, as one annotator (their API key) through the annotators' REST endpoints, every record still
    pending for them that `answers` (external id -> {question: value}) knows; returns the responses submitted."""
    import httpx

    headers = {"X-Argilla-Api-Key": api_key}
    pending_filter = {"filters": {"and": [{"type": "terms", "scope": {"entity": "response", "property": "status"},
                                           "values": ["pending"]}]}}
    records, offset = [], 0
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as http:
        while True:
            resp = http.post(f"/api/v1/me/datasets/{dataset_id}/records/search", json=pending_filter,
                             params={"include": "responses", "offset": offset, "limit": 500})
            if resp.status_code >= 400:
                raise ServiceError(f"annotator search failed: HTTP {resp.status_code} {resp.text[:160]}",
                                   "check `curate server logs server`")
            items = resp.json()["items"]
            records += [it["record"] for it in items]
            offset += len(items)
            if not items or offset >= resp.json()["total"]:
                break
        done = 0
        for record in records:
            if record.get("responses"):
                continue
            values = answers.get(record.get("external_id") or "")
            if not values:
                continue
            body = {"status": SUBMITTED, "values": {q: {"value": v} for q, v in values.items()}}
            resp = http.post(f"/api/v1/records/{record['id']}/responses", json=body)
            if resp.status_code == 422 and "already" in resp.text:
                continue
            if resp.status_code >= 400:
                raise ServiceError(f"simulated annotation failed: HTTP {resp.status_code} {resp.text[:160]}",
                                   "check `curate server logs server`")
            done += 1
    return done
