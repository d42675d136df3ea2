"""`curate probe fit`: the harmfulness probe shared by triggers and boundary scoring."""

from __future__ import annotations

import typer

from . import common

probe_app = typer.Typer(help="Fit and inspect the embedding harmfulness probe.", no_args_is_help=True)


@probe_app.command("fit")
def fit(
    harmful: list[str] = typer.Option(..., "--harmful", help="Source(s) of harmful prompts."),
    harmless: list[str] = typer.Option(..., "--harmless", help="Source(s) of harmless prompts."),
    name: str = typer.Option("default", "--name", help="Probe name in the workspace."),
    prompt_col: str = typer.Option(None, "--prompt-col"),
    max_per_class: int = typer.Option(None, "--max-per-class", help="Subsample each class (seeded)."),
) -> None:
    """Fit a logistic-regression probe on sentence embeddings of harmful vs harmless prompts."""
    from ..embeddings import get_encoder, workspace_cache
    from ..ingest import IngestConfig, load_prompts
    from ..probe import default_probe_dir, fit_probe

    s = common.settings()
    ws = common.workspace()
    cfg = IngestConfig(prompt_col=prompt_col)
    texts = {}
    for kind, srcs in (("harmful", harmful), ("harmless", harmless)):
        ds = load_prompts(srcs, cfg)
        if max_per_class and len(ds) > max_per_class:
            ds = ds.shuffle(seed=s.seed).select(range(max_per_class))
        texts[kind] = ds["prompt"]
    encoder = get_encoder(s.embedding_model, device=s.device)
    probe = fit_probe(texts["harmful"], texts["harmless"], encoder, workspace_cache(ws.root, encoder.model_id),
                      seed=s.seed, batch_size=s.batch_size)
    probe.meta["sources"] = {"harmful": harmful, "harmless": harmless}
    path = probe.save(default_probe_dir(ws.root, name))
    common.console.print(f"probe '{name}' saved to {path}: {probe.meta['n_harmful']} harmful, "
                         f"{probe.meta['n_harmless']} harmless, hold-out AUROC {probe.meta['holdout_auroc']:.3f}")


def register(app: typer.Typer) -> None:
    app.add_typer(probe_app, name="probe")
