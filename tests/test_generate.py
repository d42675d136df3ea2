"""Generate on a tiny random causal LM (real transformers code): batching, chat/plain formats, resume, checkpoints."""

from __future__ import annotations

import pytest
from datasets import Dataset

from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.hashing import record_id
from curation.generate.stage import GenerateConfig, pending_rows, run

PROMPTS = ["How do I kill a Python process?", "Write a story about a dragon.", "How to make a bomb at home",
           "Explain how photosynthesis works.", "The capital of France is?"]


def prompts_ds(prompts=PROMPTS) -> Dataset:
    return Dataset.from_dict({C.ID: [record_id(p) for p in prompts], C.PROMPT: list(prompts),
                              C.RESPONSE: [None] * len(prompts)})


def test_generate_answers_every_prompt(tiny_lm_path):
    cfg = GenerateConfig(model=str(tiny_lm_path), max_new_tokens=6, batch_size=2)
    out = run(prompts_ds(), cfg)
    assert out[C.PROMPT] == PROMPTS and out[C.GENERATED_BY] == [str(tiny_lm_path)] * 5
    assert all(isinstance(r, str) and r for r in out[C.RESPONSE])
    assert pending_rows(out, str(tiny_lm_path)) == []
    # greedy decoding is deterministic and independent of batch composition order
    again = run(prompts_ds(), cfg.model_copy(update={"batch_size": 5}))
    assert again[C.RESPONSE] == out[C.RESPONSE]


def test_plain_model_without_chat_template_warns_and_works(tiny_lm_plain_path):
    with pytest.warns(UserWarning, match="no chat template"):
        out = run(prompts_ds(PROMPTS[:2]), GenerateConfig(model=str(tiny_lm_plain_path), max_new_tokens=4))
    assert len([r for r in out[C.RESPONSE] if r]) == 2


def test_resume_skips_rows_answered_by_the_same_model(tiny_lm_path):
    model = str(tiny_lm_path)
    cfg = GenerateConfig(model=model, max_new_tokens=5, batch_size=2, limit=2)
    first = run(prompts_ds(), cfg)
    assert len(pending_rows(first, model)) == 3
    # a row answered by another model, or with an empty answer, is answered again
    first = first.map(lambda row, i: {C.RESPONSE: "old answer" if i == 4 else row[C.RESPONSE],
                                      C.GENERATED_BY: "other-model" if i == 4 else row[C.GENERATED_BY]},
                      with_indices=True)
    answered = {i: r for i, r in enumerate(first[C.RESPONSE]) if first[C.GENERATED_BY][i] == model}
    second = run(first, cfg.model_copy(update={"limit": None}))
    assert pending_rows(second, model) == []
    assert all(second[C.RESPONSE][i] == r for i, r in answered.items())
    assert second[C.RESPONSE][4] != "old answer"


def test_checkpoints_let_a_killed_run_resume(tiny_lm_path, workspace):
    model = str(tiny_lm_path)
    cfg = GenerateConfig(model=model, max_new_tokens=4, batch_size=1, save_every=2)

    class Killed(Exception):
        pass

    def checkpoint_then_die(partial: Dataset) -> None:
        workspace.save_dataset(partial, "answers")
        raise Killed

    with pytest.raises(Killed):
        run(prompts_ds(), cfg, checkpoint=checkpoint_then_die)
    saved = workspace.load_dataset("answers")
    assert len(pending_rows(saved, model)) == 3  # two batches of one were checkpointed
    calls = []
    resumed = run(prompts_ds(), cfg, checkpoint=calls.append, previous=saved)
    assert pending_rows(resumed, model) == [] and len(calls) == 1  # only 3 rows left: one checkpoint
    assert [resumed[C.RESPONSE][i] for i in range(5) if saved[C.RESPONSE][i]] == [r for r in saved[C.RESPONSE] if r]


def test_missing_prompt_column_is_an_input_error(tiny_lm_path):
    with pytest.raises(InputError, match="no 'prompt' column; columns found: text"):
        run(Dataset.from_dict({"text": ["x"]}), GenerateConfig(model=str(tiny_lm_path)))


# --- #16: finish reason, token counts, seeded --limit, progress off a terminal ----------------------------------------
def test_finish_reason_and_token_counts(tiny_lm_path):
    from curation.generate.stage import DEFAULT_MAX_NEW_TOKENS, truncated_count

    assert GenerateConfig().max_new_tokens == DEFAULT_MAX_NEW_TOKENS == 256
    out = run(prompts_ds(), GenerateConfig(model=str(tiny_lm_path), max_new_tokens=3, batch_size=2))
    # a random tiny model never emits its end token in 3 steps: every answer is cut
    assert out[C.FINISH_REASON] == ["length"] * 5 and truncated_count(out) == 5
    assert out[C.COMPLETION_TOKENS] == [3] * 5 and all(n > 0 for n in out[C.PROMPT_TOKENS])


def test_finish_reason_stop_when_the_model_ends_its_turn(tiny_lm_path):
    from curation.models.lm import format_prompts, generate_detailed, load_lm, tokenize_batch

    lm = load_lm(str(tiny_lm_path))
    enc = tokenize_batch(lm, format_prompts(lm, PROMPTS[:1]))
    first = int(lm.model.generate(**enc, max_new_tokens=1, do_sample=False,
                                  pad_token_id=lm.tokenizer.pad_token_id)[0, -1])
    saved = lm.model.generation_config.eos_token_id
    lm.model.generation_config.eos_token_id = first  # the first token it produces now ends its turn
    try:
        out = generate_detailed(lm, PROMPTS[:1], max_new_tokens=4, batch_size=1)
    finally:
        lm.model.generation_config.eos_token_id = saved
    assert out[0].finish_reason == "stop" and out[0].completion_tokens == 1


def test_limit_takes_a_seeded_sample_not_the_first_rows(tiny_lm_path):
    prompts = [f"Question number {i}?" for i in range(30)]
    cfg = GenerateConfig(model=str(tiny_lm_path), max_new_tokens=2, batch_size=8, limit=5, seed=1)
    out = run(prompts_ds(prompts), cfg)
    answered = [i for i, r in enumerate(out[C.RESPONSE]) if r]
    assert len(answered) == 5 and answered != list(range(5))
    again = run(prompts_ds(prompts), cfg)
    assert [i for i, r in enumerate(again[C.RESPONSE]) if r] == answered
    other = run(prompts_ds(prompts), cfg.model_copy(update={"seed": 2}))
    assert [i for i, r in enumerate(other[C.RESPONSE]) if r] != answered


def test_progress_lines_when_not_on_a_terminal(tiny_lm_path, capsys):
    run(prompts_ds(), GenerateConfig(model=str(tiny_lm_path), max_new_tokens=2, batch_size=1, progress_every=2))
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("generate:")]
    assert len(lines) == 3 and lines[-1].startswith("generate: 5/5 rows") and "rows/s, ETA" in lines[0]


def test_resume_carries_finish_reasons(tiny_lm_path):
    cfg = GenerateConfig(model=str(tiny_lm_path), max_new_tokens=3, batch_size=2, limit=2)
    first = run(prompts_ds(), cfg)
    second = run(prompts_ds(), cfg.model_copy(update={"limit": None}), previous=first)
    assert second[C.FINISH_REASON] == ["length"] * 5
