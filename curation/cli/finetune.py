"""`curate finetune DATASET --name NAME`: LoRA fine-tuning of a local chat model on a built sft set."""

from __future__ import annotations

import typer

from curation.cli import common


def finetune(
    dataset: str = typer.Argument(..., help="BUILD:CONFIG from `curate build` (e.g. demo-build:sft), a workspace "
                                            "dataset or a save_to_disk folder, with `messages` or prompt + response."),
    split: str = typer.Option("train", "--split", help="Split of a build config or DatasetDict folder."),
    name: str = typer.Option(..., "--name", "-n", help="Adapter name; use it as --model BASE+adapter:NAME."),
    model: str = typer.Option("smollm2", "--model", "-m", help="Base model: Hub id, local folder, .gguf, 'smollm2'."),
    max_steps: int = typer.Option(200, "--max-steps"),
    learning_rate: float = typer.Option(2e-4, "--lr"),
    batch_size: int = typer.Option(8, "--batch-size"),
    max_length: int = typer.Option(256, "--max-length", help="Tokens per example."),
    lora_r: int = typer.Option(16, "--lora-r"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option(None, "--device", help="cpu or cuda (default: the device setting)."),
    save_steps: int = typer.Option(50, "--save-steps", help="Checkpoint every N steps; a re-run resumes."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Train a LoRA adapter with TRL's SFTTrainer (loss on the assistant's answer) and save it in the workspace."""
    from curation.finetune.stage import FinetuneConfig, load_training_data, run

    s = common.settings()
    ws = common.workspace()
    cfg = FinetuneConfig(model=model, name=name, max_steps=max_steps, learning_rate=learning_rate,
                         batch_size=batch_size, max_length=max_length, lora_r=lora_r, lora_alpha=2 * lora_r,
                         seed=seed, device=device or s.device, save_steps=save_steps)
    report = run(load_training_data(ws, dataset, split), cfg, ws)
    ws.log_event("finetune", dataset=dataset, **report.as_dict())
    resumed = f", resumed from step {report.resumed_from}" if report.resumed_from else ""
    common.console.print(
        f"trained adapter '{name}' on {report.examples} examples: {report.steps} steps in {report.seconds:.0f} s "
        f"on {report.device}{resumed}, loss {report.first_loss:.3f} → {report.last_loss:.3f}; saved to "
        f"{report.adapter}. Use it as --model {model}+adapter:{name}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune)
