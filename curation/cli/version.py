"""`curate version create | list | show | diff`: immutable, fingerprinted dataset versions."""

from __future__ import annotations

import json

import typer

from curation.cli import common

version_app = typer.Typer(help="Freeze builds as immutable versions, list, show and compare them.",
                          no_args_is_help=True)


@version_app.command("create")
def create(
    build_name: str = typer.Argument(..., help="A build (its version_name) under builds/."),
    tag: str = typer.Option(None, "--tag", help="Semver tag (default: the latest bumped)."),
    bump: str = typer.Option("minor", "--bump", help="major | minor | patch when --tag is not given."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Freeze a build: parquet per config and split, manifest with lineage and fingerprint; never overwrites."""
    from curation.build.stage import load_build
    from curation.publish.versions import create_version

    ws = common.workspace()
    manifest = create_version(ws, load_build(ws, build_name), tag, bump)
    ws.log_event("version.create", tag=manifest["tag"], fingerprint=manifest["fingerprint"])
    same = f" (same content as {', '.join(manifest['same_content_as'])})" if manifest["same_content_as"] else ""
    common.console.print(f"version {manifest['tag']} created, fingerprint {manifest['fingerprint']}{same}")


@version_app.command("list")
def list_command(workspace_dir: common.WorkspaceDir = None) -> None:
    """Every version with its fingerprint and row counts."""
    from curation.publish.versions import list_versions

    rows = [(m["tag"], m["created_at"][:19], m["fingerprint"][:12], m["lineage"].get("build", ""),
             ", ".join(f"{c}={sum(s.values())}" for c, s in m["rows"].items()))
            for m in list_versions(common.workspace())]
    common.table("versions", ["tag", "created", "fingerprint", "build", "rows"], rows)


@version_app.command("show")
def show(tag: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json"),
    workspace_dir: common.WorkspaceDir = None) -> None:
    """The manifest of one version: rows per config and split, sources and their fingerprints."""
    from curation.publish.versions import load_manifest

    manifest = load_manifest(common.workspace(), tag)
    if as_json:
        common.console.print_json(json.dumps(manifest, default=str))
        return
    common.console.print(f"version {tag}: fingerprint {manifest['fingerprint']}, created {manifest['created_at']}")
    splits = list(dict.fromkeys(s for v in manifest["rows"].values() for s in v))
    common.table("rows", ["config", *splits],
                 [(c, *(v.get(s, 0) for s in splits)) for c, v in manifest["rows"].items()])
    sources = manifest["lineage"].get("sources", {})
    common.table("sources", ["dataset", "rows", "fingerprint", "annotation snapshot"],
                 [(n, s.get("rows"), s.get("fingerprint", "")[:12],
                   json.dumps(s.get("annotation_snapshot")) if s.get("annotation_snapshot") else "-")
                  for n, s in sources.items()])


@version_app.command("diff")
def diff(a: str = typer.Argument(...), b: str = typer.Argument(...),
         as_json: bool = typer.Option(False, "--json"),
         workspace_dir: common.WorkspaceDir = None) -> None:
    """Rows added, removed and changed between versions A and B, and label changes."""
    from curation.publish.versions import diff_versions

    result = diff_versions(common.workspace(), a, b)
    if as_json:
        common.console.print_json(json.dumps(result, default=str))
        return
    common.table(f"{a} -> {b}", ["config", "rows A", "rows B", "added", "removed", "changed", "moved split",
                                  "label changes"],
                 [(c, d["rows_a"], d["rows_b"], len(d["added"]), len(d["removed"]), len(d["changed"]),
                   len(d["moved"]), len(d["label_changes"])) for c, d in result["configs"].items()])
    for config, d in result["configs"].items():
        for change in d["label_changes"][:20]:
            common.console.print(f"  {config} {change['id']}: {d['label_column']} {change['from']} -> {change['to']}")


def register(app: typer.Typer) -> None:
    app.add_typer(version_app, name="version")
