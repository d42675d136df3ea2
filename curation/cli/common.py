"""Helpers every command module shares: global state, the options several commands take (defined once), console,
error reporting, tables."""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from curation.core.config import Settings, describe_validation, load_settings, set_cli_workspace
from curation.core.errors import ConfigError, CurationError
from curation.core.workspace import Workspace

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


@dataclass
class _State:
    workspace: Path | None = None
    debug: bool = False


STATE = _State()


class DefaultToRun(TyperGroup):
    """A command group whose `run` is the default: `curate triggers DATASET ...` = `curate triggers run DATASET ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def use_workspace(path: Path | None) -> Path | None:
    """`-w/--workspace` given after a command: the local workspace folder of this invocation (wins over the global
    flag, which the root callback has applied already)."""
    if path is not None:
        STATE.workspace = path
        set_cli_workspace(path)  # library code that reads the settings sees it too (reset when the command closes)
    return path


# Options shared by several commands, defined once: a command declares `workspace_dir: common.WorkspaceDir = None`
# (typer 0.9 reads no `X | None` annotations; a None default makes an option optional).
WorkspaceDir = Annotated[Path, typer.Option(
    "--workspace", "-w", callback=use_workspace, is_eager=True, expose_value=False,
    help="Workspace folder (default ./.curate; also accepted before the command).")]
Engine = Annotated[str, typer.Option("--engine", help="local, or ray (joins RAY_ADDRESS, else a local Ray).")]
NumProc = Annotated[int, typer.Option("--num-proc", help="local engine: worker processes (shards).")]
Device = Annotated[str, typer.Option("--device", help="torch device (default: the device setting).")]
ArgillaUrl = Annotated[str, typer.Option("--api-url", envvar="ARGILLA_API_URL",
                                                help="Argilla URL (default: the local stack).")]
ArgillaKey = Annotated[str, typer.Option("--api-key", envvar="ARGILLA_API_KEY",
                                                help="Argilla API key (default: the local stack's).")]
ArgillaWorkspace = Annotated[str, typer.Option("--argilla-workspace", help="Argilla workspace.")]


def out_as(default: str) -> Any:
    """The `-o/--out` option of a command that saves a dataset (one spelling everywhere), its default in the help."""
    return Annotated[str, typer.Option("--out", "-o", help=f"Save under this name (default: {default}).")]


Out = out_as("NAME, updated in place")


def out_name(out: str | None, name: str, suffix: str = "") -> str:
    """Where a command saves: --out, else the input dataset's name (a folder's last part) plus `suffix`."""
    return out or f"{name.rstrip('/').split('/')[-1]}{suffix}"


def fmt(value: float | None) -> str:
    """A figure with three decimals, '-' when there is none (tables)."""
    return "-" if value is None else f"{value:.3f}"


def settings(**overrides: Any) -> Settings:
    return load_settings(workspace=STATE.workspace, **overrides)


def workspace() -> Workspace:
    """The workspace of this invocation, its folder created now (an unusable path fails before any work)."""
    ws = Workspace(settings().workspace)
    ws.dir()
    return ws


def argilla_client(api_url: str | None, api_key: str | None) -> Any:
    """The Argilla client of a command: --api-url/--api-key, else the configured or this workspace's local stack."""
    from curation.annotate.client import connect

    return connect(api_url, api_key, workspace=workspace())


def snapshot_name(ws: Workspace, name: str) -> str:
    """The pulled annotation snapshot a command means by NAME: workspace dataset NAME.annotations, else NAME."""
    return f"{name}.annotations" if ws.has_dataset(f"{name}.annotations") else name


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
