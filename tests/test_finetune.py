"""`curate finetune`: LoRA + TRL SFTTrainer on a tiny real Llama; the adapter loads back by name and changes outputs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from datasets import Dataset

from curation.core.errors import InputError, ModelError
from curation.finetune.stage import FinetuneConfig, adapter_dir, load_training_data, run, to_prompt_completion
from curation.models.lm import load_lm, split_adapter

REFUSAL = "I cannot help with that request."


def _chat_rows(n: int = 16) -> Dataset:
    prompts = ["How to make a bomb at home", "How do I kill a Python process?"]
    return Dataset.from_list([{"id": str(i), "messages": [{"role": "user", "content": prompts[i % 2]},
                                                         {"role": "assistant", "content": REFUSAL}]}
                              for i in range(n)])


def _next_token_logits(model_spec: str, device: str = "cpu"):
    import torch

    lm = load_lm(model_spec, device)
    text = lm.tokenizer.apply_chat_template([{"role": "user", "content": "How to make a bomb at home"}],
                                            tokenize=False, add_generation_prompt=True)
    enc = lm.tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        return lm.model(**enc).logits[0, -1]


def test_adapter_trains_resumes_and_loads_back(tiny_lm_path, workspace, monkeypatch):
    monkeypatch.setenv("CURATE_WORKSPACE", str(workspace.root))
    cfg = FinetuneConfig(model=str(tiny_lm_path), name="safety", max_steps=12, save_steps=4, batch_size=4,
                         learning_rate=5e-2, lora_r=4, lora_alpha=8, seed=0)
    first = run(_chat_rows(), cfg, workspace)
    assert first.steps == 12 and first.resumed_from is None
    assert first.last_loss < first.first_loss  # it learns the one answer
    folder = adapter_dir(workspace, "safety")
    assert (folder / "adapter_config.json").exists() and (folder / "curation_adapter.json").exists()
    assert not list(folder.parent.glob(".safety.checkpoints"))  # checkpoints go once the adapter is saved

    # an interrupted longer run leaves checkpoints; the next run resumes from the latest one
    longer = cfg.model_copy(update={"max_steps": 14})
    ckpts = folder.with_name(".safety.checkpoints")
    from transformers import TrainerCallback

    class Stop(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 4:
                raise KeyboardInterrupt

    import trl

    original = trl.SFTTrainer.__init__

    def with_stop(self, *a, **kw):
        kw["callbacks"] = [*kw.get("callbacks", []), Stop()]
        original(self, *a, **kw)

    monkeypatch.setattr(trl.SFTTrainer, "__init__", with_stop)
    with pytest.raises(KeyboardInterrupt):
        run(_chat_rows(), longer, workspace)
    monkeypatch.setattr(trl.SFTTrainer, "__init__", original)
    assert (ckpts / "checkpoint-4").is_dir()
    resumed = run(_chat_rows(), longer, workspace)
    assert resumed.resumed_from == 4 and resumed.steps == 14

    base = _next_token_logits(str(tiny_lm_path))
    tuned = _next_token_logits(f"{tiny_lm_path}+adapter:safety")
    assert (base - tuned).abs().max().item() > 1e-3
    # by folder path too, and the adapted model prefers the trained answer's first token
    by_path = _next_token_logits(f"{tiny_lm_path}+adapter:{folder}")
    assert (by_path - tuned).abs().max().item() < 1e-5
    lm = load_lm(f"{tiny_lm_path}+adapter:safety")
    first_tok = lm.tokenizer(REFUSAL, add_special_tokens=False)["input_ids"][0]
    assert tuned.log_softmax(-1)[first_tok] > base.log_softmax(-1)[first_tok]


def test_bad_inputs(workspace, tiny_lm_path, monkeypatch):
    monkeypatch.setenv("CURATE_WORKSPACE", str(workspace.root))
    with pytest.raises(InputError, match="messages"):
        to_prompt_completion(Dataset.from_list([{"text": "x"}]))
    with pytest.raises(InputError, match="assistant"):
        to_prompt_completion(Dataset.from_list([{"messages": [{"role": "user", "content": "hi"}]}]))
    pairs = to_prompt_completion(Dataset.from_list([{"prompt": "p", "response": "r"}]))
    assert pairs[0]["completion"] == [{"role": "assistant", "content": "r"}]
    with pytest.raises(ModelError, match="no adapter 'missing'"):
        load_lm(f"{tiny_lm_path}+adapter:missing")
    with pytest.raises(ModelError, match="BASE\\+adapter:NAME"):
        split_adapter("+adapter:x")
    with pytest.raises(InputError, match="no build named"):
        load_training_data(workspace, "nobuild:sft")


def test_console_script(tiny_lm_path, workspace, tmp_path):
    """The installed `curate finetune` trains from a save_to_disk folder and prints progress lines to a pipe."""
    data = tmp_path / "sft"
    _chat_rows(8).save_to_disk(str(data))
    curate = [sys.executable, "-c", "from curation.cli import main; main()"]
    out = subprocess.run([*curate, "-w", str(workspace.root), "finetune", str(data), "--name", "cli",
                          "--model", str(tiny_lm_path), "--max-steps", "2", "--batch-size", "4", "--lora-r", "2"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "finetune: 2/2 steps" in out.stderr and "--model" in out.stdout
    assert (adapter_dir(workspace, "cli") / "adapter_config.json").exists()
    bad = subprocess.run([*curate, "-w", str(workspace.root), "finetune", str(data), "--name", "x",
                          "--model", str(tiny_lm_path), "--device", "cuda"], capture_output=True, text=True,
                         timeout=300)
    import torch

    if not torch.cuda.is_available():
        assert bad.returncode == 2 and "no CUDA device" in bad.stderr
