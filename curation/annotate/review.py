"""Review datasets on Argilla: created from an `AnnotationSchema` built in code (not a YAML file) in a workspace
only its members see, records upserted by id through the SDK. The adjudication stage decides what a review
asks; this module is how it gets to the server."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from curation.annotate.languages import add_to_workspace
from curation.annotate.push import ensure_workspace
from curation.annotate.schemas import AnnotationSchema
from curation.core.errors import ServiceError

# (field names, question names) of the dataset on the server -> records as dicts: {"id", "fields", "metadata",
# "suggestions": {question name: {"value", "score", "agent"}}}
RecordMaker = Callable[[list[str], list[str]], list[dict[str, Any]]]


def question_labels(client: Any, dataset_name: str, workspace_name: str = "argilla") -> dict[str, list[str]]:
    """question name -> label list of an Argilla dataset's questions ({} when the dataset does not exist)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = client.datasets(name=dataset_name, workspace=workspace_name)
    if dataset is None:
        return {}
    return {q.name: list(getattr(q, "labels", None) or []) for q in dataset.settings.questions}


def _sdk_record(rg: Any, record: dict[str, Any]) -> Any:
    suggestions = [rg.Suggestion(question_name=q, **made) for q, made in (record.get("suggestions") or {}).items()]
    return rg.Record(id=record["id"], fields=record["fields"], suggestions=suggestions,
                     metadata=record.get("metadata") or {})


def push_review_records(client: Any, dataset_name: str, workspace_name: str, schema: AnnotationSchema,
                        make_records: RecordMaker, members: Sequence[str] = ()) -> None:
    """Create the review dataset from `schema` unless it exists (an existing one keeps its settings), add
    `members` to its workspace, and upsert `make_records(field names, question names)` of the dataset as it is on
    the server; any failure is one ServiceError line."""
    import argilla as rg

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ensure_workspace(client, workspace_name)
            for username in members:
                add_to_workspace(client, workspace_name, username)
            dataset = client.datasets(name=dataset_name, workspace=workspace_name)
            if dataset is None:
                dataset = rg.Dataset(name=dataset_name, workspace=workspace_name, settings=schema.to_settings(
                    client=client), client=client)
                dataset.create()
            fields = [f.name for f in dataset.settings.fields]
            questions = [q.name for q in dataset.settings.questions]
            dataset.records.log([_sdk_record(rg, r) for r in make_records(fields, questions)])
    except Exception as err:  # noqa: BLE001 - the SDK raises many types for one failure
        raise ServiceError(f"could not push the review dataset '{dataset_name}' to Argilla: "
                           f"{str(err).splitlines()[0][-400:]}", "check it with `curate server status`") from None
