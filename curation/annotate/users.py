"""Argilla users: create annotators with a one-time random password, and read API keys (owner only)."""

from __future__ import annotations

import re
import secrets
import warnings
from typing import Any

from ..errors import InputError
from .client import raw_request
from .push import ensure_workspace

ROLES = ("annotator", "admin", "owner")
_USERNAME = re.compile(r"^(?!-|_)[a-z0-9-_]+$")


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
    user = rg.User(username=username, password=password, role=role, client=client).create()
    if workspace:
        ensure_workspace(client, workspace).add_user(user)
    return user, password


def api_key(client: Any, username: str) -> str:
    """A user's API key (annotators use it for REST calls); needs an owner client."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        user = client.users(username=username)
    if user is None:
        raise InputError(f"no Argilla user '{username}'", "create it with `curate users add`")
    return raw_request(client, "GET", f"/api/v1/users/{user.id}")["api_key"]
