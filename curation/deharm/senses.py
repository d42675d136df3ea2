"""Sense inventory of trigger lexicon entries (curation/data/senses/<lang>.yaml) and POS-typed generic frames
(curation/data/deharm_templates.yaml): benign requests a user would type that keep the trigger word.

Entry requests are written by hand with the trigger marked `[like this]` in the inflected form the sentence needs,
so they are grammatical by construction; a frame slot takes one citation form of one part of speech (`{VERB}` the
infinitive, `{NOUN}` a noun used as a compound modifier), never a word of another part of speech.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from curation.core.config import load_model

SENSES_DIR = "data/senses"
DEFAULT_TEMPLATES = "data/deharm_templates.yaml"
KINDS = ("homonym", "figurative", "safe_target", "safe_context", "education", "safety_advice")
Kind = Literal["homonym", "figurative", "safe_target", "safe_context", "education", "safety_advice"]
POS = Literal["VERB", "NOUN", "ADJ"]
MARK = re.compile(r"\[([^\[\]]+)\]")
SLOT = re.compile(r"\{(VERB|NOUN)\}")


class Sense(BaseModel):
    """One benign sense of an entry with requests that use it; each request marks the trigger once."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    gloss: str = Field(min_length=2)
    requests: list[str] = Field(min_length=1)

    @field_validator("requests")
    @classmethod
    def _one_mark(cls, requests: list[str]) -> list[str]:
        for request in requests:
            if len(MARK.findall(request)) != 1:
                raise ValueError(f"request {request!r} must mark the trigger exactly once, [like this]")
        return requests


class Entry(BaseModel):
    """A lexicon entry's part of speech and its benign senses."""

    model_config = ConfigDict(extra="forbid")

    pos: POS
    senses: list[Sense] = Field(min_length=1)


class Inventory(BaseModel):
    """senses/<lang>.yaml: lexicon entry -> senses."""

    model_config = ConfigDict(extra="forbid")

    version: Literal["senses.v1"] = "senses.v1"
    language: str = Field(pattern=r"^[a-z]{2,3}$")
    entries: dict[str, Entry]


class FrameFile(BaseModel):
    """deharm_templates.yaml: sense kind -> language -> frames holding one `{VERB}` or `{NOUN}` slot."""

    model_config = ConfigDict(extra="forbid")

    version: Literal["deharm_templates.v2"] = "deharm_templates.v2"
    frames: dict[Kind, dict[str, list[str]]]

    @field_validator("frames")
    @classmethod
    def _one_slot(cls, frames: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        for kind, by_language in frames.items():
            for language, items in by_language.items():
                for frame in items:
                    if len(SLOT.findall(frame)) != 1 or "{trigger}" in frame:
                        raise ValueError(f"{kind}/{language} frame {frame!r} needs exactly one {{VERB}} or {{NOUN}} "
                                         "slot (a bare {trigger} would paste any word into any slot)")
        return frames


def _parse(model: type[BaseModel], path: str | Path | None, default: str, hint: str) -> BaseModel:
    where = str(path) if path else default
    file = Path(path) if path else Path(str(resources.files("curation").joinpath(default)))
    return load_model(file, model, where=f"deharm data {where}", hint=hint)


def load_frames(path: str | Path | None = None) -> FrameFile:
    """Read and validate the generic frames; a frame without exactly one typed slot is a ConfigError naming it."""
    return _parse(FrameFile, path, DEFAULT_TEMPLATES,  # type: ignore[return-value]
                  "follow the layout of curation/data/deharm_templates.yaml")


def inventory_languages() -> list[str]:
    """Languages with a shipped sense inventory."""
    folder = resources.files("curation").joinpath(SENSES_DIR)
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


@cache
def load_inventory(language: str, path: str | None = None) -> Inventory:
    """The sense inventory of `language` (an empty one when none is shipped)."""
    if path is None and language not in inventory_languages():
        return Inventory(language=language if re.match(r"^[a-z]{2,3}$", language) else "xx", entries={})
    inv = _parse(Inventory, path, f"{SENSES_DIR}/{language}.yaml",
                 "follow the layout of curation/data/senses/en.yaml")
    return inv  # type: ignore[return-value]


@dataclass(frozen=True)
class Candidate:
    """A realized rewrite: text, where its trigger is, its sense, and how it was made."""

    text: str
    start: int
    end: int
    kind: str
    gloss: str
    method: str  # "sense" (entry request) or "frame"

    @property
    def trigger(self) -> str:
        return self.text[self.start:self.end]


def unmark(request: str) -> tuple[str, int, int]:
    """`How do I [kill] it?` -> ("How do I kill it?", 9, 13)."""
    match = MARK.search(request)
    assert match, "validated requests hold one mark"
    text = request[: match.start()] + match.group(1) + request[match.end():]
    return text, match.start(), match.start() + len(match.group(1))


_ELIDE = {"fr": ("de", "que", "le", "la", "je", "me", "te", "se", "ne")}
_VOWEL = re.compile(r"[aeiouyhâàéèêîôûAEIOUYHÉ]")


def realize_frame(frame: str, word: str, language: str) -> tuple[str, int, int]:
    """Fill the one slot of `frame` with `word` (French elision: de attaquer -> d'attaquer); text and word span."""
    match = SLOT.search(frame)
    assert match, "validated frames hold one slot"
    before, after = frame[: match.start()], frame[match.end():]
    last = re.search(r"(\w+) $", before)
    if last and last.group(1).lower() in _ELIDE.get(language, ()) and _VOWEL.match(word):
        before = before[: last.start(1)] + last.group(1)[:-1] + "'"
    return before + word + after, len(before), len(before) + len(word)


def entry_candidates(lemma: str, language: str, inventory_path: str | None = None) -> list[Candidate]:
    """Every request of the entry `lemma` (case-insensitive lookup; German nouns keep their capital)."""
    inv = load_inventory(language, inventory_path)
    entry = inv.entries.get(lemma) or next((e for k, e in inv.entries.items() if k.casefold() == lemma.casefold()),
                                           None)
    if entry is None:
        return []
    out = []
    for sense in entry.senses:
        for request in sense.requests:
            text, start, end = unmark(request)
            out.append(Candidate(text, start, end, sense.kind, sense.gloss, "sense"))
    return out


def entry_pos(lemma: str, language: str) -> str | None:
    """The part of speech the inventory gives `lemma`, if it lists it."""
    inv = load_inventory(language)
    entry = inv.entries.get(lemma) or next((e for k, e in inv.entries.items() if k.casefold() == lemma.casefold()),
                                           None)
    return entry.pos if entry else None


def frame_candidates(lemma: str, pos: str | None, language: str, frames: FrameFile) -> list[Candidate]:
    """Generic frames of the slot type matching `pos`, filled with the citation form `lemma` (never another POS)."""
    if pos not in ("VERB", "NOUN") or " " in lemma.strip():
        return []
    out = []
    for kind, by_language in frames.frames.items():
        for frame in by_language.get(language, []):
            if f"{{{pos}}}" not in frame:
                continue
            text, start, end = realize_frame(frame, lemma, language)
            out.append(Candidate(text, start, end, kind, f"generic {kind.replace('_', ' ')}", "frame"))
    return out
