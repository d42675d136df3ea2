"""`curate users add|list`: Argilla accounts for annotators."""

from __future__ import annotations

import typer

from . import common
from .annotate import API_KEY, API_URL, client

users_app = typer.Typer(help="Manage Argilla users.", no_args_is_help=True)


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="Username (lowercase letters, digits, - and _)."),
    role: str = typer.Option("annotator", "--role", help="annotator, admin or owner."),
    workspace: str = typer.Option("argilla", "--workspace", help="Argilla workspace to join (created if missing)."),
    api_url: str = API_URL,
    api_key: str = API_KEY,
) -> None:
    """Create a user and print its one-time password (it is not stored anywhere)."""
    from ..annotate.users import add_user

    rg_client = client(api_url, api_key)
    user, password = add_user(rg_client, name, role, workspace)
    common.console.print(f"created {role} '{user.username}' in workspace '{workspace}' at {rg_client.api_url}",
                         markup=False)
    common.console.print(f"one-time password: {password}", markup=False)


@users_app.command("list")
def list_users(api_url: str = API_URL, api_key: str = API_KEY) -> None:
    """Users of the Argilla server."""
    rg_client = client(api_url, api_key)
    common.table("users", ["username", "role"], [(u.username, u.role.value) for u in rg_client.users])


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
