"""`curate`: a thin typer layer; each command group lives in its own module and only parses and calls."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import typer

from . import common

app = typer.Typer(help="Curate refusal-training and over-refusal evaluation datasets.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)

# command modules: each exposes `register(app)`; adding a stage = adding a name here
COMMAND_MODULES = (
    "workspace", "ingest", "probe", "generate", "translate", "boundary", "qa", "adjudicate", "build", "version",
    "publish", "server", "annotate", "users", "triggers", "deharm", "loop", "evaluate", "demo", "finetune",
)


@app.callback()
def main_options(
    workspace: Path = typer.Option(None, "--workspace", "-w", envvar="CURATE_WORKSPACE",
                                   help="Workspace folder (default ./.curate)."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks."),
) -> None:
    """Global options shared by every command."""
    common.STATE.workspace = workspace
    if workspace is not None:  # library code that reads the settings (e.g. adapter names in lm) sees -w too
        os.environ["CURATE_WORKSPACE"] = str(workspace)
    common.STATE.debug = debug


for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}").register(app)


def main() -> None:
    """Console entry point: run the app, turning CurationErrors into one line and an exit code."""
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=False)
    except Exception as err:  # noqa: BLE001 - report_error prints one line (a traceback with --debug) per kind
        sys.exit(common.report_error(err, debug))
