"""Argilla users: create annotators and reviewers with a one-time random password, read API keys (owner only), and
keep the curation roles (Argilla 2.8 knows annotator/admin/owner only: a reviewer is an Argilla annotator in the
reviewers' workspace, recorded as a reviewer in the curation workspace's `roles.json`)."""

from __future__ import annotations

import re
import secrets
import warnings
from typing import Any

from curation.annotate.client import raw_request
from curation.annotate.push import ensure_workspace
from curation.core.errors import InputError
from curation.core.workspace import Workspace

ROLES = ("annotator", "reviewer", "admin", "owner")
REVIEWER = "reviewer"
REVIEW_WORKSPACE = "reviewers"
ROLES_FILE = "roles.json"
_USERNAME = re.compile(r"^(?!-|_)[a-z0-9-_]+$")


def default_workspace(role: str) -> str:
    """Where a new user works: reviewers in the reviewers' workspace, everyone else in `argilla`."""
    return REVIEW_WORKSPACE if role == REVIEWER else "argilla"


def add_user(client: Any, username: str, role: str = "annotator", workspace: str | None = "argilla",
             password: str | None = None) -> tuple[Any, str]:
    """Create a user (random password unless given) and add it to `workspace`; returns (rg.User, password)."""
    import argilla as rg

    if role not in ROLES:
        raise InputError(f"unknown role '{role}'", f"use one of: {', '.join(ROLES)}")
    if not _USERNAME.match(username):
        raise InputError(f"invalid username '{username}'", "use lowercase letters, digits, '-' and '_'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK warns when the user does not exist (what we want)
        existing = client.users(username=username)
    if existing is not None:
        raise InputError(f"user '{username}' already exists", "pick another name, or reset it in the Argilla UI")
    password = password or secrets.token_urlsafe(12)
    argilla_role = "annotator" if role == REVIEWER else role
    user = rg.User(username=username, password=password, role=argilla_role, client=client).create()
    if workspace:
        ensure_workspace(client, workspace).add_user(user)
    return user, password


def user_exists(client: Any, username: str) -> bool:
    """Whether the Argilla server has a user of that name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK warns when the user does not exist
        return client.users(username=username) is not None


def load_roles(ws: Workspace) -> dict[str, str]:
    """username -> curation role recorded by `curate users add --role`."""
    import json

    path = ws.artifact_dir("annotate") / ROLES_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def record_role(ws: Workspace, username: str, role: str) -> None:
    """Remember a user's curation role (atomic write)."""
    ws.write_json(ws.artifact_dir("annotate") / ROLES_FILE, {**load_roles(ws), username: role})


def reviewers(ws: Workspace) -> set[str]:
    """Users with the reviewer role."""
    return {user for user, role in load_roles(ws).items() if role == REVIEWER}


def api_key(client: Any, username: str) -> str:
    """A user's API key (annotators use it for REST calls); needs an owner client."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        user = client.users(username=username)
    if user is None:
        raise InputError(f"no Argilla user '{username}'", "create it with `curate users add`")
    return raw_request(client, "GET", f"/api/v1/users/{user.id}")["api_key"]
