"""`curate push-to-hub VERSION REPO_ID`: one commit with card, parquet shards and manifest, then a tag."""

from __future__ import annotations

from pathlib import Path

import typer

from curation.cli import common


def push_command(
    version: str = typer.Argument(..., help="Version tag (see `curate version list`)."),
    repo_id: str = typer.Argument(..., help="Dataset repo: NAMESPACE/NAME (or NAME for your own namespace)."),
    private: bool = typer.Option(False, "--private", help="Create the repo private."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only write the repository tree to --out."),
    out: Path = typer.Option(None, "--out", help="Where --dry-run writes the tree (default: artifacts/publish)."),
    endpoint: str = typer.Option(None, "--endpoint", envvar="HF_ENDPOINT", help="Hub URL (default huggingface.co)."),
    allow_simulated: bool = typer.Option(False, "--allow-simulated", help="Publish gold that rests on simulated "
                                         "annotators (the card says so in its first paragraph)."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Publish VERSION to the Hub (token from HF_TOKEN or the cached login, never printed)."""
    from curation.publish import push_to_hub as hub

    ws = common.workspace()
    if dry_run:
        folder = hub.stage_tree(ws, version, out or ws.artifact_dir("publish", version) / "tree", repo_id,
                                allow_simulated)
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        common.console.print(f"dry run: repository tree written to {folder}")
        for name in files:
            common.console.print(f"  {name}")
        return
    result = hub.push_to_hub(ws, version, repo_id, private=private, endpoint=endpoint,
                             allow_simulated=allow_simulated)
    ws.log_event("push_to_hub", version=version, repo_id=result["repo_id"], commit=result["commit"],
                 deleted=result["deleted"])
    deleted = f", {len(result['deleted'])} dropped file(s) deleted" if result["deleted"] else ""
    common.console.print(f"published {version} to {result['repo_id']} as one commit {result['commit'][:12]}, "
                         f"tagged {result['tag']}{deleted}")


def register(app: typer.Typer) -> None:
    app.command("push-to-hub")(push_command)
