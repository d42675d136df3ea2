"""`curate loop NAME`: one active-learning round on an Argilla trigger_spans dataset."""

from __future__ import annotations

import typer

from curation.cli import common


def loop_command(
    name: str = typer.Argument(..., help="Argilla dataset (trigger_spans schema)."),
    pipeline: str = typer.Option(None, "--pipeline", help="Workspace dataset that was pushed (per-span agents)."),
    probe: str = typer.Option("default", "--probe", help="Probe name to refit."),
    no_contrast: bool = typer.Option(False, "--no-contrast", help="Fit on confirmed annotations only."),
    keep_threshold: float = typer.Option(0.5, "--keep-threshold", help="Re-weighted score a suggested span needs."),
    no_span_refit: bool = typer.Option(False, "--no-span-refit",
                                       help="Keep the trigger span model (do not refit it on annotators' spans)."),
    argilla_workspace: common.ArgillaWorkspace = "argilla",
    api_url: common.ArgillaUrl = None,
    api_key: common.ArgillaKey = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Refit the probe and proposer weights from confirmed annotations; rescore the pending records."""
    from curation.active_learning import stage as loop

    s = common.settings()
    ws = common.workspace()
    cfg = loop.LoopConfig(probe=probe, use_contrast=not no_contrast, keep_threshold=keep_threshold,
                          embedding_model=s.embedding_model, device=s.device, refit_spans=not no_span_refit)
    gold = ws.load_dataset(f"{name}.gold") if ws.has_dataset(f"{name}.gold") else None
    report = loop.LoopReport()
    snapshot = loop.run(common.argilla_client(api_url, api_key), name, ws.root, cfg, argilla_workspace,
                        ws.load_dataset(pipeline) if pipeline else None, gold, report)
    ws.save_dataset(snapshot, f"{name}.annotations")
    ws.write_json(ws.artifact_dir("loop", name) / "report.json", report.as_dict())
    ws.log_event("loop", name=name, **{k: v for k, v in report.as_dict().items() if k != "proposers"})
    common.console.print(f"{name}: {report.confirmed} confirmed ({report.confirmed_harmful} harmful), "
                         f"{report.hard_negatives} hard negatives, "
                         f"{report.rescored} pending records rescored; probe AUROC on confirmed "
                         f"{common.fmt(report.probe_auroc_before)} -> {common.fmt(report.probe_auroc_after)}",
                         markup=False)
    common.table("trigger proposers", ["agent", "weight before", "weight after", "spans before", "precision before",
                                       "spans after", "precision after"],
                 [(a, common.fmt(p["weight_before"]), common.fmt(p["weight_after"]), p["proposed_before"],
                   common.fmt(p["precision_before"]), p["proposed_after"], common.fmt(p["precision_after"]))
                  for a, p in report.proposers.items()])
    common.console.print(f"suggested-span precision {common.fmt(report.precision_before)} -> "
                         f"{common.fmt(report.precision_after)}; sort the Argilla queue by metadata 'uncertainty' "
                         "(descending) to see the most uncertain first", markup=False)
    if report.span_model_path:
        common.console.print(f"trigger span model refit on {report.span_examples} annotated span answers (+ the "
                             f"shipped dev set) -> {report.span_model_path}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("loop")(loop_command)
