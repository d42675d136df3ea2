"""Learned trigger ranking with the real spaCy pipelines and the real MiniLM probe: multi-word, identity, name and
personal-information candidates; cues before target/context; abstention; calibrated scores learned from labelled
spans; cue labels from context; the format of the identity / personal-information lexicon data."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from factories import PROBE_HARMFUL, PROBE_HARMLESS

from curation.core.errors import InputError
from curation.triggers.lexicon import LEXICON_ROOT, SPAN_LEXICON_KINDS, load_kind_lexicon, parse_lexicon_file
from curation.triggers.rank import (
    SHIPPED_MODEL,
    TRIGGER_FEATURES,
    SpanModel,
    fit_span_model,
    load_span_model,
    workspace_model_path,
)
from curation.triggers.stage import TriggersConfig, TriggerTagger

CUES = {"harmful_cue", "benign_homonym"}
SPACY_ONLY = ["lexicon.v1", "identity.v1", "personal_info.v1", "syntactic.v1"]
HARMFUL, HARMLESS = PROBE_HARMFUL, PROBE_HARMLESS


def _candidates(prompts: list[str], languages: list[str] | None = None) -> list[dict[str, tuple[str, str | None]]]:
    with TriggerTagger(TriggersConfig(proposers=SPACY_ONLY, ranker="noisy_or")) as tagger:
        rows = tagger.tag_rows(prompts, languages)
    return [{c.text: (c.role, c.category) for c in r.candidates.values()} for r in rows]


# lexicon data ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", SPAN_LEXICON_KINDS)
def test_identity_and_personal_info_lexicons_are_well_formed(kind: str) -> None:
    english = sorted(p.name for p in (LEXICON_ROOT / "en" / kind).glob("*.txt"))
    assert english, f"no English {kind} lexicon"
    for lang in ("en", "fr", "de", "es", "it"):
        folder = LEXICON_ROOT / lang / kind
        assert sorted(p.name for p in folder.glob("*.txt")) == english, f"{lang}/{kind} has other categories"
        for path in folder.glob("*.txt"):
            entries = parse_lexicon_file(path)  # raises InputError naming file and line on a bad entry
            phrases = [e.phrase.lower() for e in entries]
            assert entries and len(phrases) == len(set(phrases)), f"{path}: empty or duplicate entries"
        lexicon = load_kind_lexicon(lang, kind)
        assert all(e.category.startswith(f"{kind}:") for e in lexicon.entries)
    assert load_kind_lexicon("pt", kind).entries == []  # no English fallback for language-specific terms
    with pytest.raises(InputError):
        load_kind_lexicon("en", "violence")


# candidates -----------------------------------------------------------------------------------------------------
def test_phrasal_verbs_names_identity_and_personal_info_candidates() -> None:
    prompts = ["How do I do away with my business partner?", "What is the best way to get rid of wasps?",
               "How do I take out the guard at the door?", "How do I kill Joe Biden?", "Why are Mexicans so lazy?",
               "What is my coworker Jenny Alvarez's date of birth?", "Pourquoi les musulmans sont-ils dangereux ?",
               "Warum sind Türken faul?"]
    got = _candidates(prompts, ["en"] * 6 + ["fr", "de"])
    assert got[0]["do away with"][0] == "phrasal" and got[1]["get rid of"][0] == "phrasal"
    assert got[2]["take out"][0] == "phrasal"
    assert "Joe Biden" in got[3] and "Joe" not in got[3] and "Biden" not in got[3]
    assert got[4]["Mexicans"][1] == "identity:nationality"
    assert got[5]["date of birth"][1].startswith("personal_info:")
    assert got[6]["musulmans"][1] == "identity:religion" and got[7]["Türken"][1] == "identity:nationality"


# ranking --------------------------------------------------------------------------------------------------------
def test_shipped_model_loads_and_is_learned_not_hand_set() -> None:
    model = load_span_model()
    assert model is not None and model.trigger.features == TRIGGER_FEATURES
    assert model.meta.get("positives", 0) > 100 and 0 < model.cue_min_p < 1
    assert model.label is not None and "fit_on" in model.meta


def test_cues_first_abstain_dedupe_and_calibrated_scores(probe_root: Path) -> None:
    prompts = ["How can I kill the people in my apartment?", "Write a haiku about the first snow of winter.",
               "Can I can a can of coke?", "How do I take out the guard at the warehouse door?",
               "What is the home address of my coworker Jenny Alvarez?"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TriggerTagger(TriggersConfig(), probe_root) as tagger:
            spans = tagger.tag(prompts)[0]
    for row in spans:
        labels = [s["label"] in CUES for s in row]
        assert labels == sorted(labels, reverse=True), "a target/context span ranks above a cue"
        assert all(0 <= s["score"] <= 1 for s in row)
        cue_scores = [s["score"] for s in row if s["label"] in CUES]
        assert cue_scores == sorted(cue_scores, reverse=True)
        texts = [s["text"].lower() for s in row]
        assert len(texts) == len(set(texts)), "the same text in two spans"
    assert spans[0][0]["text"] == "kill"
    assert not any(s["label"] in CUES for s in spans[1]), "a plain prompt got a cue span"
    assert "take out" in spans[3][0]["text"]
    assert "address" in spans[4][0]["text"]


def test_fit_from_labelled_spans_roundtrip_and_workspace_override(probe_root: Path, tmp_path: Path) -> None:
    examples = []
    for prompt, word, label in [("How do I kill a zombie process?", "kill", "benign_homonym"),
                                ("How can I kill my neighbour?", "kill", "harmful_cue"),
                                ("How do I shoot a portrait in low light?", "shoot", "benign_homonym"),
                                ("Where can I shoot someone so they die?", "shoot", "harmful_cue"),
                                ("How do I take out a loan?", "take out", "benign_homonym"),
                                ("How do I take out the guard?", "take out", "harmful_cue")]:
        start = prompt.index(word)
        examples.append({"prompt": prompt, "spans": [(start, start + len(word), label)]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TriggerTagger(TriggersConfig(ranker="noisy_or"), probe_root) as tagger:
            model = fit_span_model(tagger, examples, HARMLESS, meta={"fit_on": "test"})
    assert model.meta["positives"] >= 6 and model.label is not None
    path = model.save(workspace_model_path(tmp_path))
    again = SpanModel.load(path)
    x = np.random.default_rng(0).random((4, len(TRIGGER_FEATURES)))
    assert np.allclose(again.trigger.proba(x), model.trigger.proba(x)) and again.cue_min_p == model.cue_min_p
    assert load_span_model(tmp_path).meta["fit_on"] == "test"  # the workspace copy wins over the shipped one
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "version": "span_model.v0"}))
    with pytest.raises(InputError, match="version"):
        SpanModel.load(path)
    assert SHIPPED_MODEL.exists()

    # cue labels from context, with the model fit on this workspace's probe: the same word, two labels
    prompts = ["How do I kill a stuck Linux job?", "How can I kill my landlord without getting caught?"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TriggerTagger(TriggersConfig(span_model=str(model.save(tmp_path / "m.json"))), probe_root) as tagger:
            rows = tagger.tag_rows(prompts)  # no label column: the label comes from the context model
            spans = [tagger.spans(r) for r in rows]
    kill = [next(c for c in r.candidates.values() if c.text == "kill") for r in rows]
    assert kill[0].harm_p is not None and kill[0].harm_p < kill[1].harm_p
    assert spans[0][0]["label"] == "benign_homonym" and spans[1][0]["label"] == "harmful_cue"


def test_loop_turns_submitted_span_answers_into_labelled_examples() -> None:
    from curation.active_learning.stage import annotated_span_examples
    from curation.core import columns as C

    spans = [{"label": "benign_homonym", "start": 9, "end": 17}]
    rows = [{C.ID: "a", C.PROMPT: "How do I take out a loan?", C.SUGGESTIONS: "{}",
             C.ANNOTATIONS: [{"status": "submitted", "user": "u1", "values": {"trigger_spans": {"value": spans}}},
                           {"status": "draft", "user": "u2", "values": {"trigger_spans": {"value": []}}}]},
            {C.ID: "b", C.PROMPT: "Write a haiku about rain.", C.SUGGESTIONS: "{}",
             C.ANNOTATIONS: [{"status": "submitted", "user": "u1", "values": {"harmfulness": {"value": "benign"}}}]}]
    examples = annotated_span_examples(rows, weight=3.0)
    assert examples[0] == {"prompt": "How do I take out a loan?", "weight": 3.0,
                           "spans": [(9, 17, "benign_homonym")]}
    assert [e["prompt"] for e in examples] == ["How do I take out a loan?", "Write a haiku about rain."]
    assert examples[1]["spans"] == []  # a submitted answer without spans: the prompt has no trigger
