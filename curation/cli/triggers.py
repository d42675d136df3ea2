"""`curate triggers DATASET | inventory | export`: propose refusal-trigger spans, inventory and export them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from curation.cli import common
from curation.core.config import load_model, read_yaml

FLAG_HINT = "fix the flag or the config file"

triggers_app = typer.Typer(cls=common.DefaultToRun, no_args_is_help=True,
                           help="Propose the spans most likely to make a model refuse each prompt "
                                "(`curate triggers DATASET`), inventory and export them.")


@triggers_app.command("run")
def run_cmd(
    name: str = typer.Argument(..., help="Workspace dataset (or save_to_disk folder) with a prompt column."),
    out: common.Out = None,
    config: Path = typer.Option(None, "--config", help="YAML file with TriggersConfig options (flags win)."),
    lexicon: list[str] = typer.Option(None, "--lexicon", help="Extra lexicon file or folder (repeatable)."),
    proposer: list[str] = typer.Option(None, "--proposer", "-p",
                                       help="Proposers to run (repeatable; default lexicon, syntactic, probe)."),
    top_k: int = typer.Option(None, "--top-k", "-k", help="Spans kept per prompt (default 3)."),
    probe: str = typer.Option(None, "--probe", help="Probe name in the workspace (default 'default')."),
    probe_path: str = typer.Option(None, "--probe-path", help="Explicit probe folder."),
    require_probe: bool = typer.Option(None, "--require-probe/--no-require-probe",
                                       help="Fail when no probe is fit (default: run without, flagged)."),
    direction: str = typer.Option(None, "--direction", help="Refusal direction file/folder: adds model-internal "
                                                            "occlusion (direction_occlusion.v1)."),
    max_chars: int = typer.Option(None, "--max-chars", help="Truncate longer prompts (default 2000)."),
    batch_size: int = typer.Option(None, "--batch-size"),
    device: common.Device = None,
    engine: common.Engine = "local",
    num_proc: common.NumProc = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Add trigger_spans (best first) and trigger_flags to every prompt of NAME."""
    import warnings

    from curation.active_learning.stage import load_weights
    from curation.core import columns as C
    from curation.core.engine import engine_options
    from curation.triggers.stage import TRIGGER_FLAGS, TriggersConfig, run

    s = common.settings()
    ws = common.workspace()
    base = read_yaml(config, f"triggers config {config}") if config else {}
    flags = {"lexicons": lexicon or None, "proposers": proposer or None, "top_k": top_k, "probe": probe,
             "probe_path": probe_path, "require_probe": require_probe, "direction": direction,
             "max_chars": max_chars, "batch_size": batch_size, "device": device}
    base.setdefault("spacy_model", s.spacy_model)
    base.setdefault("device", s.device)
    base.setdefault("weights", load_weights(ws.root))  # proposer weights refit by `curate loop`, else defaults
    cfg = load_model(base, TriggersConfig, where="triggers options", overrides=flags, hint=FLAG_HINT)
    ds = ws.load_dataset(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(ds, cfg, ws.root, engine=engine_options(engine, num_proc))
    for w in caught:
        if str(w.message).startswith("triggers:"):
            common.err_console.print(f"warning: {w.message}", markup=False, soft_wrap=True)
    target = common.out_name(out, name)
    ws.save_dataset(result, target)
    labels = Counter(s["label"] for row in result[C.TRIGGER_SPANS] for s in row)
    flag_counts = Counter(f for row in result[TRIGGER_FLAGS] for f in row)
    with_spans = sum(1 for row in result[C.TRIGGER_SPANS] if row)
    top = Counter(row[0]["text"].lower() for row in result[C.TRIGGER_SPANS] if row).most_common(8)
    ws.log_event("triggers", name=name, out=target, rows=len(result), with_spans=with_spans, labels=dict(labels),
                 flags=dict(flag_counts), proposers=cfg.proposer_names())
    common.table(f"triggers → {target}", ["rows", "with spans", "labels", "flags", "top triggers"],
                 [(len(result), with_spans, ", ".join(f"{k} {v}" for k, v in labels.most_common()) or "-",
                   ", ".join(f"{k} {v}" for k, v in flag_counts.most_common()) or "-",
                   ", ".join(f"{t} ({n})" for t, n in top) or "-")])


@triggers_app.command("inventory")
def inventory_cmd(
    name: str = typer.Argument(..., help="A dataset with trigger_spans (see `curate triggers NAME`)."),
    out: common.out_as("NAME.triggers") = None,
    plot: Path = typer.Option(None, "--plot", help="Write a PNG chart of the most frequent triggers."),
    top: int = typer.Option(20, "--top", help="Rows shown in the table and the chart."),
    min_count: int = typer.Option(1, "--min-count", help="Drop triggers seen fewer times."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Lemmatized triggers across the corpus: count, share, refusal lift (when judged) and embedding clusters."""
    from curation.triggers.inventory import InventoryConfig, inventory, plot_inventory

    s = common.settings()
    ws = common.workspace()
    cfg = load_model({"min_count": min_count, "embedding_model": s.embedding_model, "device": s.device},
                     InventoryConfig, where="triggers options", hint=FLAG_HINT)
    inv = inventory(ws.load_dataset(name), cfg, ws.root)
    target = common.out_name(out, name, ".triggers")
    ws.save_dataset(inv, target)
    ws.log_event("triggers.inventory", name=name, out=target, triggers=len(inv))
    shown = inv.select(range(min(top, len(inv))))
    common.table(f"trigger inventory → {target} ({len(inv)} triggers)",
                 ["trigger", "count", "share", "harmful", "benign", "refused with", "refused without", "lift",
                  "cluster"],
                 [(r["trigger"], r["count"], f"{r['share']:.1%}", r["harmful_cue"], r["benign_homonym"],
                   "-" if r["refusal_rate_with"] is None else f"{r['refusal_rate_with']:.2f}",
                   "-" if r["refusal_rate_without"] is None else f"{r['refusal_rate_without']:.2f}",
                   "-" if r["lift"] is None else f"{r['lift']:.2f}", f"{r['cluster']} ({r['cluster_name']})")
                  for r in shown])
    if plot:
        plot_inventory(inv, plot, top, f"triggers in {name}")
        common.console.print(f"chart written to {plot}")


@triggers_app.command("export")
def export_cmd(
    name: str = typer.Argument(..., help="A dataset with trigger_spans."),
    docbin: Path = typer.Option(None, "--docbin", help="Write a spaCy DocBin (.spacy), spans in doc.spans[triggers]."),
    jsonl: Path = typer.Option(None, "--jsonl", help="Write JSONL (id, prompt, language, trigger_spans, flags)."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Export trigger spans for span-categorizer training (DocBin) or other tools (JSONL)."""
    from curation.core.errors import InputError
    from curation.triggers.export import write_docbin, write_jsonl

    if not docbin and not jsonl:
        raise InputError("triggers export: nothing to write", "pass --docbin PATH and/or --jsonl PATH")
    ds = common.workspace().load_dataset(name)
    if docbin:
        common.console.print(f"{len(ds)} docs written to {write_docbin(ds, docbin)}")
    if jsonl:
        common.console.print(f"{len(ds)} rows written to {write_jsonl(ds, jsonl)}")


def register(app: typer.Typer) -> None:
    app.add_typer(triggers_app, name="triggers")
