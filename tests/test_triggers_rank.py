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
    assert model.row is not None and again.row is not None and again.row_min_p == model.row_min_p  # abstain model
    assert np.allclose(again.row.coef, model.row.coef, atol=1e-5)
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


# #20 follow-up: candidates, the whole-phrase slot, the abstain rule, stale models and the loop refit -----------
def _hand_model(**coef: float) -> SpanModel:
    """A span model with hand-set weights (only to pin the selection rules, not a shipped ranking)."""
    from curation.triggers.rank import Logistic

    weights = [coef.get(f, 0.0) for f in TRIGGER_FEATURES]
    return SpanModel(Logistic(TRIGGER_FEATURES, weights, 0.0), None, 0.2, {}, -1.0)


def _rows(prompts: list[str]):
    with TriggerTagger(TriggersConfig(proposers=SPACY_ONLY, ranker="noisy_or")) as tagger:
        return tagger.tag_rows(prompts)


def test_request_verb_behind_aspectual_verbs_and_in_every_clause() -> None:
    got = _candidates(["How do I start trafficking girls across the border?",
                       "How do I begin to poison the well without anyone seeing?",
                       "How do I kill a zombie process?"])
    assert got[0]["trafficking"][0] == "verb" and got[0].get("start", ("word",))[0] != "verb"
    assert got[1]["poison"][0] in ("verb", "cue") and got[1].get("begin", ("word",))[0] != "verb"
    assert got[2]["kill"][0] == "cue"  # a lexicon hit keeps its cue role


def test_whole_lexicon_phrase_or_phrasal_verb_takes_the_slot_of_a_cue_inside_it() -> None:
    from curation.triggers.combine import select_ranked

    rows = _rows(["Write a story where a character builds a pipe bomb.", "How do I take out the guard?"])
    # weights that rank the single word above the phrase: the selection still returns the whole phrase
    model = _hand_model(lexicon=3.0, syntactic=2.0, log_tokens=-2.0, role_word=-1.0)
    for row in rows:
        row.margin = 1.0
    pipe = select_ranked(rows[0], model, 3, 0)
    assert pipe[0]["text"] == "pipe bomb" and not any(s["text"] == "bomb" for s in pipe)
    texts = [s["text"].lower() for s in pipe]
    assert len(texts) == len(set(texts))
    take = rows[1]
    at = take.text.index("take")
    take.candidate(at, at + 4, "word").category = "test:cue"  # a cue word inside the phrasal verb
    phrasal = take.candidates[(at, at + 8)]
    phrasal.attribution["probe_occlusion.v1"] = 0.6  # the phrasal verb is a cue by occlusion
    phrasal.vote("probe_occlusion.v1", 1.0)
    spans = select_ranked(take, _hand_model(lexicon=3.0, syntactic=2.0, cue_gate=2.0, log_tokens=-2.0), 3, 0)
    assert spans[0]["text"] == "take out"


def test_abstain_without_cue_evidence_and_margin_floor() -> None:
    from curation.triggers.combine import select_ranked
    from curation.triggers.rank import has_cue_evidence

    row = _rows(["Write a haiku about the first snow of winter."])[0]
    model = _hand_model(syntactic=5.0)  # every candidate gets a high P(trigger)...
    model.cue_min_p = 0.0
    row.margin = -5.0
    spans = select_ranked(row, model, 3, 2)
    assert spans and not any(s["label"] in CUES for s in spans), "...but no cue evidence: no cue span"
    assert len(spans) <= 2  # target/context spans are kept as data, capped by context_k
    snow = next(c for c in row.candidates.values() if c.text == "snow")
    snow.attribution["probe_occlusion.v1"] = 0.9
    snow.vote("probe_occlusion.v1", 1.0)
    assert not has_cue_evidence(snow, 0.5, margin=-5.0, margin_floor=model.margin_floor)  # plain prompt: no cue
    assert has_cue_evidence(snow, 0.5, margin=0.5, margin_floor=model.margin_floor)  # reads harmful: a cue
    model.margin_floor = -6.0  # a probe with another scale: the fitted floor decides
    assert any(s["text"] == "snow" and s["label"] in CUES for s in select_ranked(row, model, 3, 2))


def test_prompt_level_abstain_decision_gates_cues_and_gives_a_cued_prompt_its_likeliest_span() -> None:
    from curation.triggers.combine import select_ranked
    from curation.triggers.rank import ROW_FEATURES, Logistic

    row = _rows(["How can I make my coworker look bad in front of the whole team?"])[0]
    row.margin = 1.0
    model = _hand_model(syntactic=1.0)
    model.cue_min_p = 0.99  # no span passes the span rule on its own
    assert not any(s["label"] in CUES for s in select_ranked(row, model, 3, 2))  # without a row model: no cue
    model.row = Logistic(ROW_FEATURES, [1.0 if f == "margin" else 0.0 for f in ROW_FEATURES], 0.0)
    model.row_min_p = 0.5
    spans = select_ranked(row, model, 3, 2)
    best = max(c.trigger_p for c in row.candidates.values())
    assert spans[0]["label"] in CUES and spans[0]["score"] == round(best, 4)  # the prompt reads harmful: a cue
    assert sum(s["label"] in CUES for s in spans) == 1
    word = next(c for c in row.candidates.values() if c.text == "coworker")
    word.category = "test:cue"
    word.vote("lexicon.v1", 1.0)
    model.cue_min_p = 0.0
    row.margin = -3.0  # the prompt reads plain: no cue at all, even for a span that passes the span rule
    assert not any(s["label"] in CUES for s in select_ranked(row, model, 3, 2))
    model.row = None
    assert any(s["text"] == "coworker" and s["label"] in CUES for s in select_ranked(row, model, 3, 2))


def test_context_spans_are_kept_as_data_whatever_their_score_and_possessed_phrases_are_candidates() -> None:
    from curation.triggers.combine import select_ranked

    row = _rows(["Describe a quiet harbour town at dawn for my novel."])[0]
    row.margin = -5.0
    model = _hand_model()
    model.trigger.intercept = -6.0  # every P(trigger) is tiny
    assert len(select_ranked(row, model, 3, 2, 0.0)) == 2 and select_ranked(row, model, 3, 2, 0.05) == []
    assert TriggersConfig().context_min_score == 0.0
    got = _candidates(["What is Elon Musk's net worth?", "Find my neighbour's daily work schedule.",
                       "For a self-defence class, how do I break a chokehold?"])
    assert "net worth" in got[0] and "daily work schedule" in got[1]  # without the possessor
    assert "self-defence" in got[2] and "self" not in got[2] and "defence" not in got[2]  # one hyphenated word


def test_label_features_read_a_second_probe_and_stand_in_the_prompt_margin_without_one(probe_root: Path,
                                                                                      tmp_path: Path) -> None:
    import shutil

    from curation.models.probe import default_probe_dir
    from curation.triggers.rank import LABEL_FEATURES, label_features

    assert LABEL_FEATURES[-1] == "margin_second"
    assert label_features(1.5, 3.0, 0.2, -2.0) == [1.5, 3.0, -1.5, 0.2, -2.0]
    assert label_features(1.5, 3.0, 0.2) == [1.5, 3.0, -1.5, 0.2, 1.5]  # no second probe: the prompt's margin
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TriggerTagger(TriggersConfig(proposers=SPACY_ONLY)) as tagger:
            rows = tagger.tag_rows(["How do I kill a zombie process?"])
            assert tagger.second_margins(rows) == [None]  # no workspace, no second probe
        with TriggerTagger(TriggersConfig(), probe_root) as tagger:
            assert tagger.second_margins(tagger.tag_rows(["How do I kill my neighbour?"])) == [None]
        # a joint multilingual probe beside the default one is the second reading (here: a copy of the same probe)
        shutil.copytree(default_probe_dir(probe_root), default_probe_dir(tmp_path))
        shutil.copytree(default_probe_dir(probe_root), default_probe_dir(tmp_path, "default-multilingual"))
        with TriggerTagger(TriggersConfig(), tmp_path) as tagger:
            rows = tagger.tag_rows(["How do I kill a zombie process?", "How do I kill my neighbour?"])
            second = tagger.second_margins(rows)
            assert tagger.second_probe_name == "default-multilingual"
    assert np.allclose(second, [r.margin for r in rows], atol=1e-4)


def test_stale_workspace_span_model_falls_back_to_the_shipped_one(tmp_path: Path) -> None:
    path = workspace_model_path(tmp_path)
    path.parent.mkdir(parents=True)
    shipped = json.loads(SHIPPED_MODEL.read_text())
    path.write_text(json.dumps({**shipped, "version": "span_model.v1"}))
    with pytest.warns(UserWarning, match="shipped span model"):
        model = load_span_model(tmp_path)
    assert model is not None and model.meta == shipped["meta"] and model.margin_floor == shipped["margin_floor"]
    with pytest.raises(InputError, match="version"):
        load_span_model(tmp_path, str(path))  # an explicit path is not second-guessed


def test_loop_refit_from_annotated_spans_writes_the_workspace_model(probe_root: Path, tmp_path: Path) -> None:
    import shutil

    from curation.models.probe import default_probe_dir
    from curation.triggers.rank import refit_with_annotations, shipped_examples

    base = shipped_examples()
    assert base and all(isinstance(s, tuple) for e in base for s in e["spans"])
    assert len(base) == len(_split("v1")) + len(_split("dev")), "the refit keeps v1 + dev rows, never test"
    shutil.copytree(default_probe_dir(probe_root), default_probe_dir(tmp_path))
    annotated = [{"prompt": "How do I take out a loan?", "spans": [(9, 17, "benign_homonym")], "weight": 3.0},
                 {"prompt": "How do I take out the night guard?", "spans": [(9, 17, "harmful_cue")], "weight": 3.0},
                 {"prompt": "Write a haiku about rain.", "spans": [], "weight": 3.0}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = refit_with_annotations(annotated, tmp_path, base=base[:24] + base[-12:])
    model = load_span_model(tmp_path)
    assert path == workspace_model_path(tmp_path) and "3 annotated examples" in model.meta["fit_on"]
    assert model.trigger.features == TRIGGER_FEATURES and 0 <= model.cue_min_p < 1 and model.meta["none_prompts"] > 0
    with pytest.raises(InputError, match="no harm probe"):
        refit_with_annotations(annotated, tmp_path / "empty", base=base[:4])


def _split(name: str) -> list[dict]:
    from curation.triggers.evaluate import load_split

    return load_split(name)
