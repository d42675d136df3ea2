"""`curate deharm NAME`: benign requests that keep each trigger word in a real benign sense, filtered, answered."""

from __future__ import annotations

import typer

from curation.cli import common


def deharm_command(
    name: str = typer.Argument(..., help="Dataset with trigger_spans (triggers stage) or a trigger_spans gold."),
    out: common.out_as("NAME.deharm") = None,
    model: str = typer.Option("smollm2", "--model", "-m", help="Local chat model for rewrites and answers."),
    answer_model: str = typer.Option(None, "--answer-model", help="Another local model to answer (default: --model)."),
    templates: str = typer.Option(None, "--templates", help="Generic frame YAML (default: the built-in one)."),
    sense: list[str] = typer.Option(None, "--sense", help="Sense kinds to use (repeatable; default all)."),
    per_pair: int = typer.Option(2, "--per-pair", min=0, help="Rewrites kept per (prompt, trigger) pair (MMR)."),
    no_model_rewrites: bool = typer.Option(False, "--no-model-rewrites", help="Sense inventory and frames only."),
    max_pairs: int = typer.Option(None, "--max-pairs", min=1, help="Use at most N (prompt, trigger) pairs."),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", min=1, help="Answer length limit (truncated "
                                                                              "answers are dropped)."),
    allow_unscored: bool = typer.Option(False, "--allow-unscored", help="Run without a harm model (no probe)."),
    push: bool = typer.Option(False, "--push", help="Send the rewrites to Argilla (deharm_review schema)."),
    to: str = typer.Option("deharm_review", "--to", help="Argilla dataset to push to."),
    argilla_workspace: common.ArgillaWorkspace = "argilla",
    api_url: common.ArgillaUrl = None,
    api_key: common.ArgillaKey = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Write benign rewrites that keep each trigger word, answer them, report every filter, optionally push."""
    from curation.deharm import stage as deharm
    from curation.models.probe import default_probe_dir

    s = common.settings()
    ws = common.workspace()
    probe_dir = default_probe_dir(ws.root)
    probe_path = str(probe_dir) if (probe_dir / "probe.json").exists() else None
    cfg = deharm.DeharmConfig(model=model, answer_model=answer_model, probe_path=probe_path, templates=templates,
                              senses=sense or None, templates_per_pair=per_pair, allow_unscored=allow_unscored,
                              model_rewrites=not no_model_rewrites, max_pairs=max_pairs,
                              answer_max_new_tokens=max_new_tokens, device=s.device)
    report = deharm.DeharmReport()
    ds = deharm.run(ws.load_dataset(name), cfg, report)
    target = out or f"{name}.deharm"
    ws.save_dataset(ds, target)
    ws.log_event("deharm", name=name, out=target, **report.as_dict())

    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "-"

    common.table(f"deharm → {target}", ["pairs", "blocked", "candidates", "rewrites dropped", "answers dropped",
                                        "rows"],
                 [(report.pairs, counts(report.blocked), report.candidates, counts(report.dropped),
                   counts(report.answers_dropped), report.rows)])
    if push and len(ds):
        from curation.models.embeddings import get_encoder, workspace_cache

        client = common.argilla_client(api_url, api_key)
        encoder = get_encoder(s.embedding_model, device=s.device)
        dataset = deharm.push(ds, client, to, argilla_workspace, encoder, workspace_cache(ws.root, encoder.model_id))
        ws.log_event("deharm.push", name=target, to=to, rows=len(ds))
        common.console.print(f"pushed {len(ds)} rewrites to '{to}': {client.api_url}/dataset/{dataset.id}/"
                             "annotation-mode", markup=False)
    common.console.print(f"saved {len(ds)} rewrites to '{target}'", markup=False)


def register(app: typer.Typer) -> None:
    app.command("deharm")(deharm_command)
