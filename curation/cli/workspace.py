"""`curate ls`: what the workspace holds."""

from __future__ import annotations

import time

import typer

from curation.cli import common


def ls(workspace_dir: common.WorkspaceDir = None) -> None:
    """List the datasets saved in the workspace."""
    ws = common.workspace()
    infos = ws.list_datasets()
    if not infos:
        common.console.print(f"workspace {ws.root} holds no datasets yet (start with `curate ingest`)",
                             soft_wrap=True)
        return
    common.table(f"workspace {ws.root}", ["name", "rows", "columns", "modified"],
                 [(i.name, i.rows, ", ".join(i.columns), time.strftime("%Y-%m-%d %H:%M", time.localtime(i.modified)))
                  for i in infos])


def register(app: typer.Typer) -> None:
    app.command("ls")(ls)
