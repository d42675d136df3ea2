"""Connect to Argilla: explicit url/key > ARGILLA_API_URL/ARGILLA_API_KEY > the workspace's local stack."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from curation.core.errors import ServiceError
from curation.core.workspace import Workspace, get_workspace

URL_ENV = "ARGILLA_API_URL"
KEY_ENV = "ARGILLA_API_KEY"
SECRET_NAME = "argilla"


def resolve_credentials(api_url: str | None = None, api_key: str | None = None,
                        workspace: Workspace | Path | str | None = None) -> tuple[str, str]:
    """(api_url, api_key) from the arguments, then the environment, then the local stack's stored secret."""
    url, key = api_url or os.environ.get(URL_ENV), api_key or os.environ.get(KEY_ENV)
    if url and key:
        return url.rstrip("/"), key
    ws = workspace if isinstance(workspace, Workspace) else get_workspace(workspace)
    stored = ws.read_secret(SECRET_NAME) or {}
    url = url or stored.get("api_url")
    key = key or stored.get("api_key")
    if not url or not key:
        raise ServiceError(f"no Argilla server configured for workspace {ws.root}",
                           "run `curate server start`, or pass --api-url/--api-key "
                           f"(or set {URL_ENV}/{KEY_ENV})")
    return url.rstrip("/"), key


def check_server(api_url: str, api_key: str, timeout: float = 10.0) -> dict[str, Any]:
    """GET /api/v1/me; a down server or a rejected key raises one ServiceError line naming the URL."""
    import httpx

    try:
        resp = httpx.get(f"{api_url}/api/v1/me", headers={"X-Argilla-Api-Key": api_key}, timeout=timeout)
    except httpx.HTTPError as err:
        raise ServiceError(f"Argilla is not reachable at {api_url} ({type(err).__name__})",
                           "start the local server with `curate server start` or check --api-url") from None
    if resp.status_code == 401:
        raise ServiceError(f"Argilla at {api_url} rejected the API key",
                           "check --api-key / ARGILLA_API_KEY, or `curate server credentials`")
    if resp.status_code != 200:
        raise ServiceError(f"Argilla at {api_url} answered HTTP {resp.status_code} to /api/v1/me",
                           "check the server logs (`curate server logs server`)")
    return resp.json()


def connect(api_url: str | None = None, api_key: str | None = None,
            workspace: Workspace | Path | str | None = None, timeout: int = 60) -> Any:
    """An `rg.Argilla` client for the given, configured or local server (checked to be up and accepting the key)."""
    import argilla as rg

    url, key = resolve_credentials(api_url, api_key, workspace)
    check_server(url, key)
    try:
        return rg.Argilla(api_url=url, api_key=key, timeout=timeout, retries=1)
    except Exception as err:  # noqa: BLE001 - the SDK raises several types for the same failure
        raise ServiceError(f"cannot connect to Argilla at {url}: {str(err).splitlines()[0]}",
                           "start it with `curate server start` or check --api-url/--api-key") from None


def raw_request(client: Any, method: str, path: str, **kwargs: Any) -> Any:
    """A REST call through the client's own HTTP session (endpoints the SDK does not cover); JSON or None."""
    import httpx

    try:
        resp = client.http_client.request(method, path, **kwargs)
    except httpx.HTTPError as err:
        raise ServiceError(f"Argilla at {client.api_url} is unreachable ({type(err).__name__})",
                           "start it with `curate server start` and re-run the command") from None
    if resp.status_code >= 400:
        detail = resp.text[:200].replace("\n", " ")
        raise ServiceError(f"Argilla at {client.api_url} answered HTTP {resp.status_code} to {method} {path}: {detail}",
                           "check the request and the server log")
    return resp.json() if resp.content else None
