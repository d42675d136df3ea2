"""`curate users add|list`: Argilla accounts for annotators."""

from __future__ import annotations

from typing import Annotated

import typer

from curation.cli import common

users_app = typer.Typer(help="Manage Argilla users.", no_args_is_help=True)


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="Username (lowercase letters, digits, - and _)."),
    role: str = typer.Option("annotator", "--role",
                             help="annotator, reviewer (adjudicates, in workspace reviewers), admin or owner."),
    argilla_workspace: Annotated[str, typer.Option(
        "--argilla-workspace", help="Argilla workspace to join, created if missing (default: argilla; reviewers: "
                                    "reviewers).")] = None,
    languages: str = typer.Option(None, "--languages",
                                  help="Languages the user annotates (fr,de): joins WORKSPACE-fr, WORKSPACE-de."),
    api_url: common.ArgillaUrl = None,
    api_key: common.ArgillaKey = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Create a user and print its one-time password (it is not stored anywhere)."""
    from curation.annotate.languages import assign_languages, parse_languages
    from curation.annotate.users import add_user, default_workspace, record_role

    langs = parse_languages(languages)  # a bad code fails before the user is created
    workspace = argilla_workspace or default_workspace(role)
    rg_client = common.argilla_client(api_url, api_key)
    user, password = add_user(rg_client, name, role, workspace)
    record_role(common.workspace(), user.username, role)
    common.console.print(f"created {role} '{user.username}' in workspace '{workspace}' at {rg_client.api_url}",
                         markup=False)
    if langs:
        assigned = assign_languages(common.workspace(), user.username, langs, rg_client, workspace)
        common.console.print(f"languages: {', '.join(assigned)} (workspaces "
                             f"{', '.join(f'{workspace}-{x}' for x in assigned)})", markup=False)
    common.console.print(f"one-time password: {password}", markup=False)


@users_app.command("assign")
def assign(
    name: str = typer.Argument(..., help="Existing username."),
    languages: str = typer.Option(..., "--languages", help="Languages to add, e.g. fr,de."),
    argilla_workspace: Annotated[str, typer.Option(
        "--argilla-workspace", help="Base Argilla workspace (WORKSPACE-LANG joined).")] = "argilla",
    api_url: common.ArgillaUrl = None,
    api_key: common.ArgillaKey = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Assign annotation languages to an existing user (joins each language's Argilla workspace)."""
    from curation.annotate.languages import add_to_workspace, assign_languages, parse_languages
    from curation.core.errors import InputError

    langs = parse_languages(languages)
    rg_client = common.argilla_client(api_url, api_key)
    if not add_to_workspace(rg_client, argilla_workspace, name):
        raise InputError(f"no Argilla user '{name}'", "create it with `curate users add NAME --languages ...`")
    assigned = assign_languages(common.workspace(), name, langs, rg_client, argilla_workspace)
    common.console.print(f"'{name}' annotates: {', '.join(assigned)}", markup=False)


@users_app.command("list")
def list_users(api_url: common.ArgillaUrl = None, api_key: common.ArgillaKey = None,
               workspace_dir: common.WorkspaceDir = None) -> None:
    """Users of the Argilla server."""
    from curation.annotate.languages import load_assignments
    from curation.annotate.users import load_roles

    rg_client = common.argilla_client(api_url, api_key)
    assigned = load_assignments(common.workspace())
    roles = load_roles(common.workspace())
    common.table("users", ["username", "role", "languages"],
                 [(u.username, roles.get(u.username, u.role.value), ", ".join(assigned.get(u.username, [])) or "-")
                  for u in rg_client.users])


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
