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
)


@app.callback()
def main_options(
    workspace: Path = typer.Option(None, "--workspace", "-w", envvar="CURATE_WORKSPACE",
                                   help="Workspace folder (default ./.curate)."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks."),
) -> None:
    """Global options shared by every command."""
    common.STATE.workspace = workspace
    common.STATE.debug = debug


for _name in COMMAND_MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}").register(app)
    except ModuleNotFoundError as _err:  # a stage module under construction must not break the others
        if not _err.name or not _err.name.startswith(f"{__name__}.{_name}"):
            raise


def main() -> None:
    """Console entry point: run the app, turning CurationErrors into one line and an exit code."""
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=False)
    except common.EXPECTED_ERRORS as err:
        sys.exit(common.report_error(err, debug))
    except SystemExit:
        raise
    except Exception as err:  # noqa: BLE001
        sys.exit(common.report_error(err, debug))
