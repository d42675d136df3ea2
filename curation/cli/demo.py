"""`curate demo`: the whole pipeline on the bundled sample, ending with where to look and the Argilla login."""

from __future__ import annotations

import typer

from curation.cli import common


def demo_command(
    model: str = typer.Option("smollm2", "--model", "-m", help="Local chat model (default: bundled SmolLM2-135M)."),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", min=1),
    no_simulate: bool = typer.Option(False, "--no-simulate", help="Do not simulate annotators; label in the UI."),
    port: int = typer.Option(None, "--port", help="Port of the local Argilla (default: last used, else 6900)."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Ingest, generate, judge, triggers, boundary, Argilla push, (simulated) annotation, qa, adjudication, deharm,
    build, version and a push-to-hub dry run; re-running reuses the workspace and the server."""
    from curation import demo

    s = common.settings()
    cfg = demo.DemoConfig(model=model, max_new_tokens=max_new_tokens, simulate=not no_simulate, port=port,
                          device=s.device)
    ctx = demo.run(common.workspace(), cfg, say=lambda line: common.console.print(line, markup=False))
    common.console.print(demo.final_panel(ctx))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
