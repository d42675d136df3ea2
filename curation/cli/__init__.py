"""`curate`: a thin typer layer; each command group lives in its own module and only parses and calls."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer

from curation.cli import common
from curation.core.config import set_cli_workspace

app = typer.Typer(help="Curate refusal-training and over-refusal evaluation datasets.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)

# command modules: each exposes `register(app)`; adding a stage = adding a name here
COMMAND_MODULES = (
    "workspace", "ingest", "probe", "generate", "translate", "boundary", "qa", "adjudicate", "build", "version",
    "publish", "server", "annotate", "users", "triggers", "deharm", "loop", "evaluate", "demo",
    "gold", "judge", "finetune",
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
    ctx: typer.Context,
    workspace: Path = typer.Option(None, "--workspace", "-w", envvar="CURATE_WORKSPACE",
                                   help="Workspace folder (default ./.curate)."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    """Global options shared by every command."""
    common.STATE.workspace = workspace
    set_cli_workspace(workspace)  # library code that reads the settings (e.g. adapter names in lm) sees -w too
    ctx.call_on_close(lambda: set_cli_workspace(None))  # and only during this invocation
    common.STATE.debug = debug


for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}").register(app)


def _workspace_root(argv: list[str]) -> Path | None:
    """The workspace folder this invocation will use (the last -w flag: one after the command wins over one before
    it; else CURATE_WORKSPACE / curate.toml / default)."""
    for i in range(len(argv) - 1, -1, -1):
        if argv[i] in ("--workspace", "-w") and i + 1 < len(argv):
            return Path(argv[i + 1])
        if argv[i].startswith("--workspace="):
            return Path(argv[i].split("=", 1)[1])
    try:
        return common.load_settings().workspace
    except Exception:  # noqa: BLE001 - a bad setting is reported by the command itself
        return None


def _folders(root: Path | None) -> set[Path]:
    import os

    if root is None or not root.is_dir():
        return set()
    return {Path(folder) for folder, _, _ in os.walk(root)}


def _remove_new_empty_dirs(root: Path | None, before: set[Path]) -> None:
    """After a failed command: remove the empty folders it created in the workspace (and the workspace itself), but
    never under `server/`: a stack the command started keeps running there and writes into those folders later."""
    if root is None:
        return
    server = root.absolute() / "server"
    for path in sorted(_folders(root) - before, key=lambda p: -len(p.parts)):
        if path.absolute().is_relative_to(server):
            continue
        try:
            if not any(path.iterdir()):
                path.rmdir()
        except OSError:
            continue


def main() -> None:
    """Console entry point: run the app, turning CurationErrors into one line and an exit code (a command's own
    exit code, e.g. `server status` 3, is passed on); a failed command leaves no new empty folders behind."""
    debug = "--debug" in sys.argv
    root = _workspace_root(sys.argv[1:])
    before = _folders(root)
    try:
        code = app(standalone_mode=False)
    except Exception as err:  # noqa: BLE001 - report_error prints one line (a traceback with --debug) per kind
        code = common.report_error(err, debug)
    code = code if isinstance(code, int) else 0
    if code:
        _remove_new_empty_dirs(root, before)
    sys.exit(code)
