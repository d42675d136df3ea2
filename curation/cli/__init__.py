"""`curate`: a thin typer layer; each command group lives in its own module and only parses and calls."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer

from . import common

app = typer.Typer(help="Curate refusal-training and over-refusal evaluation datasets.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)

# command modules: each exposes `register(app)`; adding a stage = adding a name here
COMMAND_MODULES = (
    "workspace", "ingest", "probe", "generate", "translate", "boundary", "qa", "adjudicate", "build", "version",
    "publish", "server", "annotate", "users", "triggers", "deharm", "loop", "evaluate", "demo",
    "gold",
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("refusal-curation")
        except PackageNotFoundError:
            number = "unknown (not installed)"
        typer.echo(f"curate (refusal-curation) {number}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    workspace: Path = typer.Option(None, "--workspace", "-w", envvar="CURATE_WORKSPACE",
                                   help="Workspace folder (default ./.curate)."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    """Global options shared by every command."""
    common.STATE.workspace = workspace
    common.STATE.debug = debug


for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}").register(app)


def _remove_new_empty_dirs(since: float) -> None:
    """After a failed command: remove the empty folders it created in the workspace (and the workspace itself)."""
    import os

    try:
        root = common.settings().workspace
    except Exception:  # noqa: BLE001 - settings were the problem: nothing was created
        return
    if not root.is_dir():
        return
    for folder, _, _ in sorted(os.walk(root), key=lambda x: -len(x[0])):
        path = Path(folder)
        try:
            if path.stat().st_ctime >= since and not any(path.iterdir()):
                path.rmdir()
        except OSError:
            continue


def main() -> None:
    """Console entry point: run the app, turning CurationErrors into one line and an exit code (a command's own
    exit code, e.g. `server status` 3, is passed on); a failed command leaves no new empty folders behind."""
    import time

    debug = "--debug" in sys.argv
    started = time.time() - 1  # ctime has coarse resolution on some filesystems
    try:
        code = app(standalone_mode=False)
    except Exception as err:  # noqa: BLE001 - report_error prints one line (a traceback with --debug) per kind
        code = common.report_error(err, debug)
    code = code if isinstance(code, int) else 0
    if code:
        _remove_new_empty_dirs(started)
    sys.exit(code)
