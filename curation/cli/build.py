"""`curate build --config build.yaml`: gold datasets -> one DatasetDict per named config (--tag: a version)."""

from __future__ import annotations

from pathlib import Path

import typer

from curation.cli import common


def build_command(
    config: Path = typer.Option(..., "--config", "-c", help="Build YAML (see configs/build.yaml)."),
    tag: str = typer.Option(None, "--tag", help="Also freeze the build as this version (semver)."),
    allow_simulated: bool = typer.Option(False, "--allow-simulated", help="Build gold that rests on simulated "
                                         "annotators' answers (the dataset card then says so)."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Build every config named in the YAML, save it under builds/<version_name>/, print rows per split."""
    from curation.build import stage as build

    ws = common.workspace()
    cfg, sub = build.load_build_config(config)
    result = build.run(cfg, sub, ws, allow_simulated=allow_simulated)
    path = build.save_build(result, ws)
    splits = list(cfg.splits)
    common.table(f"build {result.name}", ["config", *splits],
                 [(name, *(counts.get(s, 0) for s in splits)) for name, counts in result.row_counts().items()])
    for name, reasons in result.lineage.get("exclusions", {}).items():
        common.console.print(f"{name}: left out " + ", ".join(f"{n} {why}" for why, n in sorted(reasons.items())))
    for name in result.lineage.get("skipped_configs", {}):
        common.console.print(f"{name}: not built, every row was left out", markup=False)
    common.console.print(f"saved to {path}")
    ws.log_event("build", build=result.name, rows=result.row_counts(), exclusions=result.lineage.get("exclusions"))
    if tag:
        from curation.publish.versions import create_version

        manifest = create_version(ws, result, tag)
        common.console.print(f"version {manifest['tag']} created (fingerprint {manifest['fingerprint']})")


def register(app: typer.Typer) -> None:
    app.command("build")(build_command)
