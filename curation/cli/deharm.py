"""`curate deharm NAME`: benign rewrites that keep benign-capable trigger words, answered by a local model."""

from __future__ import annotations

import typer

from . import common
from .annotate import API_KEY, API_URL, ARGILLA_WS


def deharm_command(
    name: str = typer.Argument(..., help="Dataset with trigger_spans (triggers stage) or a trigger_spans gold."),
    out: str = typer.Option(None, "--out", "-o", help="Save as this workspace dataset (default NAME.deharm)."),
    model: str = typer.Option("smollm2", "--model", "-m", help="Local chat model for rewrites and answers."),
    templates: str = typer.Option(None, "--templates", help="Template YAML (default: the built-in one)."),
    sense: list[str] = typer.Option(None, "--sense", help="Template senses to use (repeatable; default all)."),
    per_pair: int = typer.Option(2, "--per-pair", min=0, help="Template rewrites per (prompt, trigger) pair."),
    no_model_rewrites: bool = typer.Option(False, "--no-model-rewrites", help="Templates only."),
    max_pairs: int = typer.Option(None, "--max-pairs", min=1, help="Use at most N (prompt, trigger) pairs."),
    max_new_tokens: int = typer.Option(96, "--max-new-tokens", min=1, help="Length of the answers."),
    push: bool = typer.Option(False, "--push", help="Send the rewrites to Argilla (deharm_review schema)."),
    to: str = typer.Option("deharm_review", "--to", help="Argilla dataset to push to."),
    workspace: str = ARGILLA_WS,
    api_url: str = API_URL,
    api_key: str = API_KEY,
) -> None:
    """Write template and model rewrites that keep each trigger word, answer them, and optionally push them."""
    from .. import deharm
    from ..probe import default_probe_dir

    s = common.settings()
    ws = common.workspace()
    probe_dir = default_probe_dir(ws.root)
    probe_path = str(probe_dir) if (probe_dir / "probe.json").exists() else None
    cfg = deharm.DeharmConfig(model=model, probe_path=probe_path, templates=templates, senses=sense or None,
                              templates_per_pair=per_pair,
                              model_rewrites=not no_model_rewrites, max_pairs=max_pairs,
                              answer_max_new_tokens=max_new_tokens, device=s.device)
    ds, report = deharm.run(ws.load_dataset(name), cfg)
    target = out or f"{name}.deharm"
    ws.save_dataset(ds, target)
    ws.log_event("deharm", name=name, out=target, **report.as_dict())
    common.table(f"deharm → {target}", ["triggers", "pairs", "template rewrites", "model rewrites",
                                        "model dropped", "probe dropped", "duplicates", "unanswered", "rows"],
                 [(", ".join(report.triggers) or "-", report.pairs, report.template_rewrites, report.model_rewrites,
                   report.model_dropped, report.probe_dropped, report.duplicates, report.unanswered, report.rows)])
    if push and len(ds):
        from ..annotate.client import connect
        from ..embeddings import get_encoder, workspace_cache

        client = connect(api_url, api_key, workspace=ws)
        encoder = get_encoder(s.embedding_model, device=s.device)
        dataset = deharm.push(ds, client, to, workspace, encoder, workspace_cache(ws.root, encoder.model_id))
        ws.log_event("deharm.push", name=target, to=to, rows=len(ds))
        common.console.print(f"pushed {len(ds)} rewrites to '{to}': {client.api_url}/dataset/{dataset.id}/"
                             "annotation-mode", markup=False)
    common.console.print(f"saved {len(ds)} rewrites to '{target}'", markup=False)


def register(app: typer.Typer) -> None:
    app.command("deharm")(deharm_command)
