"""Pull an Argilla dataset back: one row per record with every response per annotator beside the suggestions."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from typing import Any

from datasets import Dataset, Features, Value

from curation.annotate.client import raw_request
from curation.core import columns as C
from curation.core.errors import InputError

PAGE_SIZE = 1000  # argilla-server's list limit
RESPONSE_FEATURES = {"user": Value("string"), "user_id": Value("string"), "status": Value("string"),
                     "values": Value("string"), "inserted_at": Value("string"), "updated_at": Value("string")}
_METADATA_TYPES = {"terms": Value("string"), "float": Value("float64"), "integer": Value("int64")}


def get_dataset(client: Any, dataset_name: str, workspace_name: str = "argilla") -> Any:
    """The rg.Dataset or an InputError listing the datasets of the workspace."""
    if client.workspaces(workspace_name) is None:
        known = ", ".join(w.name for w in client.workspaces) or "none"
        raise InputError(f"no Argilla workspace '{workspace_name}'", f"known: {known}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK warns when the dataset does not exist
        dataset = client.datasets(name=dataset_name, workspace=workspace_name)
    if dataset is None:
        known = [d.name for d in client.datasets if d.workspace.name == workspace_name]
        raise InputError(f"no Argilla dataset '{dataset_name}' in workspace '{workspace_name}'",
                         f"known: {', '.join(known) or 'none'}; create it with `curate annotate push`")
    return dataset


def usernames(client: Any) -> dict[str, str]:
    """user id -> username for every user the caller can see."""
    return {u["id"]: u["username"] for u in raw_request(client, "GET", "/api/v1/users")["items"]}


def iter_raw_records(client: Any, dataset_id: Any, include: tuple[str, ...] = ("responses", "suggestions")):
    """Every record of a dataset as the REST API returns it (with timestamps), page by page."""
    offset = 0
    while True:
        page = raw_request(client, "GET", f"/api/v1/datasets/{dataset_id}/records",
                           params={"include": list(include), "offset": offset, "limit": PAGE_SIZE})
        yield from page["items"]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return


def _value(entry: Any) -> Any:
    return entry.get("value") if isinstance(entry, dict) else entry


def _schema_of(client: Any, dataset: Any) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Field names, question id -> name and metadata name -> type of the dataset on the server."""
    did = dataset.id
    fields = [f["name"] for f in raw_request(client, "GET", f"/api/v1/datasets/{did}/fields")["items"]]
    questions = {q["id"]: q["name"] for q in raw_request(client, "GET", f"/api/v1/datasets/{did}/questions")["items"]}
    metadata = {m["name"]: m["settings"]["type"]
                for m in raw_request(client, "GET", f"/api/v1/me/datasets/{did}/metadata-properties")["items"]}
    return fields, questions, metadata


def pull_records(client: Any, dataset_name: str, workspace_name: str = "argilla") -> Dataset:
    """A Dataset: id, fields, metadata columns, record_status, suggestions (JSON), responses (per annotator).

    `responses` is a list of {user, user_id, status, values (JSON {question: value}), inserted_at, updated_at};
    span values are lists of {"label", "start", "end"}; suggestion agents are comma-joined.
    """
    dataset = get_dataset(client, dataset_name, workspace_name)
    fields, questions, metadata = _schema_of(client, dataset)
    names = usernames(client)
    pulled_at = datetime.now(UTC).isoformat()
    rows: dict[str, list[Any]] = {k: [] for k in [C.ID, *fields, *metadata, "record_status", "suggestions",
                                                   "responses", "argilla_dataset", "pulled_at"]}
    for record in iter_raw_records(client, dataset.id):
        rows[C.ID].append(record.get("external_id") or record["id"])
        for name in fields:
            rows[name].append(_value(record["fields"].get(name)))
        meta = record.get("metadata") or {}
        for name in metadata:
            rows[name].append(meta.get(name))
        rows["record_status"].append(record.get("status", "pending"))
        suggestions = {}
        for s in record.get("suggestions") or []:
            agent = s.get("agent")
            suggestions[questions.get(s["question_id"], s["question_id"])] = {
                "value": s["value"], "score": s.get("score"), "agent": agent.replace(" ", ",") if agent else agent}
        rows["suggestions"].append(json.dumps(suggestions, sort_keys=True))
        responses = []
        for r in sorted(record.get("responses") or [], key=lambda r: r["inserted_at"]):
            responses.append({
                "user": names.get(r["user_id"], r["user_id"]), "user_id": r["user_id"], "status": r["status"],
                "values": json.dumps({q: _value(v) for q, v in (r.get("values") or {}).items()}, sort_keys=True),
                "inserted_at": r["inserted_at"], "updated_at": r["updated_at"]})
        rows["responses"].append(responses)
        rows["argilla_dataset"].append(dataset_name)
        rows["pulled_at"].append(pulled_at)
    features = Features({
        C.ID: Value("string"), **{f: Value("string") for f in fields},
        **{m: _METADATA_TYPES.get(t, Value("string")) for m, t in metadata.items()},
        "record_status": Value("string"), "suggestions": Value("string"),
        "responses": [RESPONSE_FEATURES], "argilla_dataset": Value("string"), "pulled_at": Value("string")})
    return Dataset.from_dict(rows, features=features)
