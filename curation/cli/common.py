"""Helpers every command module shares: global state, console, error reporting, tables."""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from curation.core.config import Settings, describe_validation, load_settings
from curation.core.errors import ConfigError, CurationError
from curation.core.workspace import Workspace

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


@dataclass
class _State:
    workspace: Path | None = None
    debug: bool = False


STATE = _State()


def settings(**overrides: Any) -> Settings:
    return load_settings(workspace=STATE.workspace, **overrides)


def workspace() -> Workspace:
    """The workspace of this invocation, its folder created now (an unusable path fails before any work)."""
    ws = Workspace(settings().workspace)
    ws.dir()
    return ws


def report_error(err: BaseException, debug: bool) -> int:
    """Print one clear line (full traceback with --debug) and return the exit code."""
    if debug:
        err_console.print(traceback.format_exc(), markup=False)
    if isinstance(err, click.exceptions.Abort):
        err_console.print("aborted", markup=False)
        return 1
    if isinstance(err, click.ClickException):
        err.show()
        return 2 if isinstance(err, click.UsageError) else err.exit_code
    if isinstance(err, ValidationError):  # a config model built from command-line options
        err = _option_error(err)
    if isinstance(err, CurationError):
        err_console.print(f"error: {err}", markup=False, soft_wrap=True)
        return err.exit_code
    err_console.print(f"error: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                      " (run with --debug for the traceback)", markup=False, soft_wrap=True)
    return 1


def _option_error(err: ValidationError) -> ConfigError:
    """One line naming the model, the first invalid option, its value and the rule it breaks (exit code 2)."""
    return describe_validation(err, f"{err.title} options", hint="fix the option or config value; see the "
                               "command's --help")


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for h in headers:
        t.add_column(h)
    for row in rows:
        t.add_row(*[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row])
    console.print(t)
