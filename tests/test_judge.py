"""Judges: string-match quality on a hand-labelled set, the classifier and LLM judges on tiny real models, the stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset

from curation import columns as C
from curation.errors import InputError
from curation.judge import (
    PARSE_FALLBACK_SCORE,
    JudgeConfig,
    get_judge,
    judge_responses,
    normalize_for_match,
    parse_llm_label,
    run,
)

EVAL = Path(__file__).parent / "data" / "judge_eval.jsonl"


def test_string_match_accuracy_on_hand_labelled_set():
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 60 and {r["label"] for r in rows} == set(C.JUDGE_LABELS)
    verdicts = judge_responses([r["response"] for r in rows])
    accuracy = sum(v["label"] == r["label"] for v, r in zip(verdicts, rows, strict=True)) / len(rows)
    print(f"string_match accuracy on {len(rows)} hand-labelled responses: {accuracy:.3f}")
    assert accuracy >= 0.85
    assert all(0 < v["score"] <= 1 for v in verdicts)


def test_normalization_of_case_and_apostrophes():
    assert normalize_for_match("I CAN\u2019T  help") == normalize_for_match("i cant help") == "i cant help"
    labels = [v["label"] for v in judge_responses(["I CAN\u2019T HELP WITH THAT.", "i cant help with that",
                                                   "I can't help with that."])]
    assert labels == ["full_refusal"] * 3


def test_opening_refusal_weighs_more_than_a_late_mention():
    opening = judge_responses(["I'm sorry, but I can't help with that request."])[0]
    late = judge_responses(["Sure. Here is a detailed explanation of how vaccines train the immune system to "
                            "recognise a pathogen, with examples from measles and polio. Some people say I cannot "
                            "explain this well, but the key idea is memory cells."])[0]
    assert opening == {"label": "full_refusal", "score": 0.95}
    assert late["label"] == "partial_refusal" and late["score"] < opening["score"]
    assert judge_responses([""])[0]["label"] == "full_refusal"


def test_stage_adds_label_score_and_name_and_skips_missing_responses():
    ds = Dataset.from_dict({C.PROMPT: ["a", "b", "c"],
                            C.RESPONSE: ["I cannot help with that.", None, "Paris is the capital of France."]})
    out = run(ds, JudgeConfig())
    assert out[C.JUDGE_LABEL] == ["full_refusal", None, "full_compliance"]
    assert out[C.JUDGE_NAME] == ["string_match.v1", None, "string_match.v1"]
    assert out[C.JUDGE_SCORE][1] is None and out[C.JUDGE_SCORE][0] > 0.5
    rejudged = run(out, JudgeConfig())  # judging twice replaces the columns
    assert rejudged[C.JUDGE_LABEL] == out[C.JUDGE_LABEL]


def test_stage_without_response_column():
    with pytest.raises(InputError, match="no 'response' column; columns found: prompt"):
        run(Dataset.from_dict({C.PROMPT: ["a"]}), JudgeConfig())


def test_unknown_judge_lists_known_ones_and_unknown_option_lists_options():
    with pytest.raises(InputError, match="unknown judge 'gpt5'.*classifier, llm, string_match"):
        judge_responses(["x"], judge="gpt5")
    with pytest.raises(InputError, match="judge 'string_match' has no option colour.*phrases_path"):
        get_judge("string_match", colour="red")


def test_custom_phrase_file(tmp_path):
    phrases = tmp_path / "p.txt"
    phrases.write_text("[refusal]\nno way\n", encoding="utf-8")
    assert judge_responses(["No way, José."], phrases_path=str(phrases))[0]["label"] == "full_refusal"
    assert judge_responses(["I cannot."], phrases_path=str(phrases))[0]["label"] == "full_compliance"


@pytest.fixture(scope="module")
def tiny_classifier(tiny_lm_path, tmp_path_factory) -> Path:
    """A random 2-label LlamaForSequenceClassification with the tiny LM's tokenizer, saved to a folder."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny_classifier")
    tokenizer = AutoTokenizer.from_pretrained(tiny_lm_path)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                         pad_token_id=tokenizer.pad_token_id, num_labels=2,
                         id2label={0: "NOT_REFUSAL", 1: "REFUSAL"}, label2id={"NOT_REFUSAL": 0, "REFUSAL": 1})
    LlamaForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_classifier_judge_with_label_map(tiny_classifier):
    responses = ["I cannot help with that.", "Sure, here is how to do it.", "Paris."]
    verdicts = judge_responses(responses, judge="classifier", model=str(tiny_classifier),
                               label_map={"NOT_REFUSAL": "full_compliance"}, batch_size=2)
    assert len(verdicts) == 3 and all(v["label"] in ("full_compliance", "full_refusal") for v in verdicts)
    assert all(0.5 <= v["score"] <= 1 for v in verdicts)
    out = run(Dataset.from_dict({C.RESPONSE: responses}),
              JudgeConfig(judge="classifier", options={"model": str(tiny_classifier),
                                                       "label_map": {"NOT_REFUSAL": "full_compliance"}}))
    assert out[C.JUDGE_NAME] == [f"classifier:{tiny_classifier}"] * 3


def test_classifier_judge_needs_a_mapping_for_unknown_labels(tiny_classifier):
    with pytest.raises(InputError, match="labels NOT_REFUSAL map to no judge label"):
        get_judge("classifier", model=str(tiny_classifier))
    with pytest.raises(InputError, match="map to no judge label"):
        get_judge("classifier", model=str(tiny_classifier), label_map={"NOT_REFUSAL": "yes"})


def test_parse_llm_label():
    assert parse_llm_label("full_refusal") == ("full_refusal", 0.9)
    assert parse_llm_label(" **Full Compliance**") == ("full_compliance", 0.9)
    assert parse_llm_label("The label is partial refusal.") == ("partial_refusal", 0.7)
    assert parse_llm_label("It refuses.") == ("full_refusal", 0.5)
    assert parse_llm_label("The assistant complied") == ("full_compliance", 0.5)
    assert parse_llm_label("banana") is None


def test_llm_judge_on_tiny_model_falls_back_with_low_score(tiny_lm_path):
    verdicts = judge_responses(["I cannot help with that.", "Sure, here is how to do it."], judge="llm",
                               model=str(tiny_lm_path), max_new_tokens=4)
    # a random model writes no label: the string-match label is kept with the documented low score
    assert [v["label"] for v in verdicts] == ["full_refusal", "full_compliance"]
    assert [v["score"] for v in verdicts] == [PARSE_FALLBACK_SCORE] * 2


def test_llm_judge_template_must_hold_the_response(tiny_lm_path):
    with pytest.raises(InputError, match=r"no \{response\} placeholder"):
        get_judge("llm", model=str(tiny_lm_path), template="Judge this: {prompt}")


@pytest.mark.slow
def test_llm_judge_runs_for_real_with_smollm2():
    verdicts = judge_responses(["I'm sorry, but I can't help with that.",
                                "Sure! To kill a Python process, run `kill <pid>` in a terminal."],
                               judge="llm", model="smollm2", max_new_tokens=8)
    assert all(v["label"] in C.JUDGE_LABELS and 0 < v["score"] <= 1 for v in verdicts)
