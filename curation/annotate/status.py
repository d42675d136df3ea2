"""Annotation progress of an Argilla dataset: record totals and, per annotator, responses and records to do."""

from __future__ import annotations

from typing import Any

from curation.annotate.client import raw_request
from curation.annotate.pull import get_dataset

STATUSES = ("submitted", "draft", "discarded")


def annotation_status(client: Any, dataset_name: str, workspace_name: str = "argilla") -> dict[str, Any]:
    """{"total", "completed", "pending", "min_submitted", "annotators": [{user, submitted, draft, discarded, to_do}]}.

    `to_do` counts the pending records the annotator has not answered yet; workspace members without any
    response are listed too.
    """
    dataset = get_dataset(client, dataset_name, workspace_name)
    progress = raw_request(client, "GET", f"/api/v1/datasets/{dataset.id}/progress")
    users = raw_request(client, "GET", f"/api/v1/datasets/{dataset.id}/users/progress")["users"]
    by_user: dict[str, dict[str, Any]] = {}
    for user in users:
        done = {s: user["completed"].get(s, 0) + user["pending"].get(s, 0) for s in STATUSES}
        on_pending = sum(user["pending"].get(s, 0) for s in STATUSES)
        by_user[user["username"]] = {"user": user["username"], **done,
                                     "to_do": max(progress["pending"] - on_pending, 0)}
    workspace = client.workspaces(workspace_name)
    for member in workspace.users if workspace is not None else []:
        if member.role.value == "annotator" and member.username not in by_user:
            by_user[member.username] = {"user": member.username, **dict.fromkeys(STATUSES, 0),
                                        "to_do": progress["pending"]}
    distribution = dataset.settings.distribution
    return {"dataset": dataset_name, "total": progress["total"], "completed": progress["completed"],
            "pending": progress["pending"], "min_submitted": distribution.min_submitted if distribution else 1,
            "annotators": sorted(by_user.values(), key=lambda u: u["user"])}
