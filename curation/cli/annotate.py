"""`curate annotate push|pull|status`: send records to Argilla and bring annotations back."""

from __future__ import annotations

import typer

from curation.cli import common

annotate_app = typer.Typer(help="Annotate in Argilla: push records with suggestions, pull responses.",
                           no_args_is_help=True)

@annotate_app.command("push")
def push(
    dataset: str = typer.Argument(..., help="Workspace dataset name or save_to_disk folder."),
    schema: str = typer.Option("trigger_spans", "--schema", help="Annotation schema name or YAML path."),
    to: str = typer.Option(..., "--to", help="Argilla dataset name (created or updated)."),
    argilla_workspace: common.ArgillaWorkspace = "argilla",
    min_submitted: int = typer.Option(1, "--min-submitted", min=1, help="Submitted responses per record."),
    batch_size: int = typer.Option(250, "--batch-size", min=1, max=500),
    per_language: bool = typer.Option(False, "--per-language",
                                      help="One dataset per language (TO-fr in workspace WORKSPACE-fr) with that "
                                           "language's guidelines and annotators."),
    languages: str = typer.Option(None, "--languages", help="--per-language: only these languages (fr,de)."),
    min_span_score: float = typer.Option(None, "--min-span-score", min=0.0, max=1.0,
                                         help="Pre-fill further cue spans scoring at least this (default 0.6, "
                                              "measured); the prompt's top cue is always pre-filled."),
    top_cue: bool = typer.Option(True, "--top-cue/--no-top-cue",
                                 help="Pre-fill the prompt's likeliest cue whatever its score (the "
                                      "triggers stage already decided the prompt holds a cue)."),
    prefill_labels: str = typer.Option(None, "--prefill-labels",
                                       help="Span labels to pre-fill (default harmful_cue,benign_homonym; add "
                                            "target,context to pre-fill those too)."),
    api_url: common.ArgillaUrl = None,
    api_key: common.ArgillaKey = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Create or update the Argilla dataset and upsert every row (by content-hash id) with suggestions, most
    uncertain first."""
    from curation.annotate.push import SuggestConfig, push_records
    from curation.annotate.schemas import load_schema_model
    from curation.models.embeddings import get_encoder, workspace_cache

    load_schema_model(schema)  # a typo in the schema name or file is an input error, found before connecting
    ws = common.workspace()
    suggest = SuggestConfig(**{k: v for k, v in {
        "min_span_score": min_span_score,
        "top_cue": top_cue,
        "span_labels": [x.strip() for x in prefill_labels.split(",") if x.strip()] if prefill_labels else None,
    }.items() if v is not None})
    ds = ws.load_dataset(dataset)
    rg_client = common.argilla_client(api_url, api_key)
    s = common.settings()
    encoder = get_encoder(s.embedding_model, device=s.device)
    if per_language:
        from curation.annotate.languages import push_per_language

        pushed = push_per_language(ds, schema, to, rg_client, ws, argilla_workspace, min_submitted, languages,
                                   batch_size=batch_size, encoder=encoder, suggest=suggest,
                                   vector_cache=workspace_cache(ws.root, encoder.model_id))
        ws.log_event("annotate.push", dataset=dataset, schema=schema, to=to, rows=len(ds), url=rg_client.api_url,
                     per_language={p.language: p.rows for p in pushed})
        common.table(f"pushed '{dataset}' per language", ["language", "dataset", "workspace", "records",
                                                          "guidelines", "annotators"],
                     [(p.language, p.dataset, p.workspace, p.rows, p.language if p.translated_guidelines else
                       "en (noted)", ", ".join(p.annotators) or "-") for p in pushed])
        return
    result = push_records(ds, schema, to, rg_client, workspace_name=argilla_workspace, min_submitted=min_submitted,
                          batch_size=batch_size, encoder=encoder, suggest=suggest,
                          vector_cache=workspace_cache(ws.root, encoder.model_id))
    ws.log_event("annotate.push", dataset=dataset, schema=schema, to=to, rows=len(ds), url=rg_client.api_url)
    common.console.print(f"pushed {len(ds)} records to '{to}' (workspace {argilla_workspace}): "
                         f"{rg_client.api_url}/dataset/{result.id}/annotation-mode", markup=False)


@annotate_app.command("pull")
def pull(
    name: str = typer.Argument(..., help="Argilla dataset name."),
    argilla_workspace: common.ArgillaWorkspace = "argilla",
    save_as: str = typer.Option(None, "--save-as", help="Workspace dataset name (default NAME.annotations)."),
    api_url: common.ArgillaUrl = None,
    api_key: common.ArgillaKey = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Save every record with all responses per annotator as the workspace dataset NAME.annotations."""
    from curation.annotate.pull import pull_records

    ds = pull_records(common.argilla_client(api_url, api_key), name, argilla_workspace)
    target = save_as or f"{name}.annotations"
    path = common.workspace().save_dataset(ds, target)
    responses = sum(len(r) for r in ds["responses"])
    common.workspace().log_event("annotate.pull", name=name, rows=len(ds), responses=responses)
    common.console.print(f"pulled {len(ds)} records, {responses} responses -> '{target}' ({path})", markup=False)


@annotate_app.command("status")
def status(
    name: str = typer.Argument(..., help="Argilla dataset name."),
    argilla_workspace: common.ArgillaWorkspace = "argilla",
    api_url: common.ArgillaUrl = None,
    api_key: common.ArgillaKey = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Progress per annotator and pending counts."""
    from curation.annotate.status import annotation_status

    st = annotation_status(common.argilla_client(api_url, api_key), name, argilla_workspace)
    common.console.print(f"{name}: {st['completed']}/{st['total']} records completed, {st['pending']} pending "
                         f"(min_submitted={st['min_submitted']})", markup=False)
    common.table("annotators", ["user", "submitted", "draft", "discarded", "to do"],
                 [(a["user"], a["submitted"], a["draft"], a["discarded"], a["to_do"]) for a in st["annotators"]])


def register(app: typer.Typer) -> None:
    app.add_typer(annotate_app, name="annotate")
