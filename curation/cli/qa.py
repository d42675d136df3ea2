"""`curate qa NAME`: agreement on a pulled annotation snapshot (labels and spans) as a table, JSON and PNG."""

from __future__ import annotations

from pathlib import Path

import typer

from curation.cli import common


def qa_command(
    name: str = typer.Argument(..., help="Snapshot name: reads workspace dataset NAME.annotations (or NAME)."),
    plot: Path = typer.Option(None, "--plot", help="Write a PNG agreement / confusion matrix here."),
    iou: float = typer.Option(0.5, "--iou", help="Character IoU for overlap-tolerant span matches."),
    pipeline: str = typer.Option(None, "--pipeline",
                                 help="Pre-annotation dataset whose trigger_spans carry per-span agents."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Cohen's / Fleiss' kappa, Krippendorff's alpha, span F1 and per-agent suggestion precision / recall."""
    from curation.qa import stage as qa
    from curation.qa.plot import plot_report

    ws = common.workspace()
    snapshot = ws.load_dataset(common.snapshot_name(ws, name))
    spans = qa.pipeline_spans(ws.load_dataset(pipeline)) if pipeline else None
    report = qa.run(snapshot, qa.QAConfig(iou_threshold=iou), name=name, pipeline=spans).as_dict()
    ws.write_json(ws.artifact_dir("qa", name) / "report.json", report)
    print_report(report)
    if plot:
        common.console.print(f"plot written to {plot_report(report, plot)}")
    ws.log_event("qa", dataset=name, records=report["records"], responses=report["responses"])


def print_report(report: dict) -> None:
    """Rich tables: one row per question, then per-annotator and per-agent figures."""
    common.console.print(f"{report['dataset']}: {report['records']} records, {report['responses']} submitted "
                         f"responses from {len(report['annotators'])} annotators")
    rows = [(q, "label", lab["multi_annotated"], common.fmt(lab["mean_cohen_kappa"]), common.fmt(lab["fleiss_kappa"]),
             common.fmt(lab["krippendorff_alpha"]), "-", "-") for q, lab in report["labels"].items()]
    rows += [(q, "span", sp["records"], "-", "-", "-", common.fmt(sp["mean_exact_f1"]),
              common.fmt(sp["mean_overlap_f1"]))
             for q, sp in report["spans"].items()]
    common.table("Agreement", ["question", "kind", "records", "Cohen kappa (mean)", "Fleiss kappa",
                               "Krippendorff alpha", "span F1 exact", "span F1 overlap"], rows)
    ann_rows = []
    for q, lab in report["labels"].items():
        for user, s in lab["per_annotator"].items():
            ann_rows.append((q, user, s["answered"], common.fmt(s["agrees_with_others"])))
    for q, sp in report["spans"].items():
        for user, s in sp["per_annotator"].items():
            ann_rows.append((q, user, s["records"], f"{s['spans']} spans"))
    common.table("Per annotator", ["question", "annotator", "answered", "agrees with others"], ann_rows)
    agent_rows = [(q, agent, s["proposed"], common.fmt(s["precision"]), common.fmt(s["recall"]), common.fmt(s["f1"]))
                  for q, sugg in report["suggestions"].items() for agent, s in sugg["agents"].items()]
    if agent_rows:
        common.table("Suggestions vs annotators", ["question", "agent", "proposed", "precision (accepted)",
                                                   "recall", "F1"], agent_rows)


def register(app: typer.Typer) -> None:
    app.command("qa")(qa_command)
