"""`curate server start|stop|status|reindex|logs|credentials`: the local Argilla stack of the workspace."""

from __future__ import annotations

import typer

from curation.cli import common

server_app = typer.Typer(help="Run the local Argilla stack (argilla-server, SQLite, noida-db, redis).",
                         no_args_is_help=True)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _parts() -> tuple[str, ...]:
    from curation.server import PARTS

    return tuple(PARTS)


def _stack(port: int | None = None, workers: int = 1, timeout: float = 120.0, host: str | None = None):
    from curation.server import LocalStack, StackConfig

    extra = {"host": host} if host else {}
    return LocalStack(common.workspace(), StackConfig(port=port, num_workers=workers, start_timeout=timeout, **extra))


@server_app.command("start")
def start(
    port: int = typer.Option(None, "--port", help="Port of the UI/API on 127.0.0.1 (default: last used, else 6900;"
                                                  " 0 picks a free one)."),
    workers: int = typer.Option(1, "--workers", help="Background worker processes."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for each part to become healthy."),
    host: str = typer.Option(None, "--host", help="Interface the UI/API binds to (default 127.0.0.1, this machine "
                                                  "only); anything else is reachable from the network."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Start the stack (idempotent) and wait until every part is healthy; prints the URL and the login."""
    if host and host not in LOOPBACK:
        common.err_console.print(f"warning: --host {host} exposes the Argilla UI/API to the network (anyone who can "
                                 "reach it can try to log in); omit --host to keep it on 127.0.0.1", markup=False,
                                 soft_wrap=True)
    stack = _stack(port, workers, timeout, host)
    status = stack.start(on_step=lambda msg: common.console.print(msg, markup=False))
    creds = stack.credentials() or {}
    common.console.print(f"Argilla is running at {status.url}", markup=False)
    common.console.print(f"log in as '{creds.get('username', 'argilla')}' (owner); password and API key: "
                         "`curate server credentials --show-secret`", markup=False)


@server_app.command("stop")
def stop(workspace_dir: common.WorkspaceDir = None) -> None:
    """Stop every part of the stack; data stays in the workspace."""
    stopped = _stack().stop()
    common.console.print(f"stopped: {', '.join(stopped)}" if stopped else "the local stack was not running")


@server_app.command("reindex")
def reindex(workspace_dir: common.WorkspaceDir = None) -> None:
    """Rebuild the search index of every dataset from the database (after a search-engine crash or data loss)."""
    _stack().reindex()
    common.console.print("search index rebuilt from the database", markup=False)


@server_app.command("status")
def status(workspace_dir: common.WorkspaceDir = None) -> None:
    """URL, user and health of each part (exit code 3 when a part is down)."""
    stack = _stack()
    if not stack.state_path.exists() and not any(stack.pid(p) for p in _parts()):
        common.console.print(f"no local Argilla stack in workspace {stack.workspace.root} (never started here); "
                             "start one with `curate server start`", markup=False, soft_wrap=True)
        raise typer.Exit(3)
    st = stack.status()
    common.console.print(f"url: {st.url}   user: {st.user}", markup=False)
    common.table("local Argilla stack", ["part", "pid", "port", "health", "detail", "log"],
                 [(p.name, p.pid or "-", p.port or "-", "ok" if p.healthy else ("unhealthy" if p.running else "down"),
                   p.detail, p.log) for p in st.parts])
    if not st.healthy:
        raise typer.Exit(3)


@server_app.command("logs")
def logs(
    part: str = typer.Argument(None, help="redis, search, server, worker or init (default: all)."),
    lines: int = typer.Option(40, "--lines", "-n", help="Lines from the end of each log."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Print the end of the stack's log files."""
    from curation.core.errors import InputError
    from curation.server import PARTS

    stack = _stack()
    names = (*PARTS, "init")
    if part and part not in names:
        raise InputError(f"unknown part '{part}'", f"use one of: {', '.join(names)}")
    for name in [part] if part else names:
        path = stack.log_path(name)
        if not path.exists():
            continue
        common.console.print(f"==> {path} <==", markup=False)
        common.console.print("\n".join(path.read_text(errors="replace").splitlines()[-lines:]), markup=False)


@server_app.command("credentials")
def credentials(
    show_secret: bool = typer.Option(False, "--show-secret", help="Print the password and API key."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """The owner's URL and username; the password and API key only with --show-secret."""
    from curation.core.errors import InputError

    creds = _stack().credentials()
    if not creds:
        raise InputError("the local stack has no credentials yet", "run `curate server start` first")
    hidden = "(hidden; add --show-secret)"
    for key in ("api_url", "username", "password", "api_key"):
        value = creds.get(key, "")
        common.console.print(f"{key}: {value if show_secret or key in ('api_url', 'username') else hidden}",
                             markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")
