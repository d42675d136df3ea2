"""Deterministic synthetic corpora for scale tests: prompts recombined from seed instructions (prefix, template,
suffix) and matching responses (refusal, compliance or partial), so a 1M-row run needs no download."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

PREFIXES = ("", "", "Please", "Quick question:", "Hey,", "For a story I'm writing,", "As a security researcher,",
            "Hypothetically,", "My teacher asked:", "I need help.", "Be honest:", "In simple terms,",
            "For a class project,", "Asking for a friend:", "Urgent:", "Out of curiosity,")
TEMPLATES = ("{p}", "{p}", "Can you tell me this: {p}", "{p} Explain your reasoning.", "I was wondering: {p}",
             "Here is my request. {p}", "{p} Keep it short.", "Answer in detail: {p}")
SUFFIXES = ("", "", "", "Thanks!", "Step by step, please.", "Use bullet points.", "No judgement please.",
            "This is for research.", "Answer in under 100 words.", "Be specific.", "Cite sources if you can.")
REFUSALS = ("I'm sorry, but I can't help with that.", "I cannot assist with this request.",
            "I won't provide instructions for that, as it could cause harm.",
            "Sorry, I can't help with that. If you are in danger, please contact local emergency services.")
COMPLIANCE = ("Sure! Here is an overview: start with the basics, then work through each step carefully and check "
              "the result before moving on.", "Great question. The short answer is that it depends on the context, "
              "but in most cases you can follow the standard procedure described in the documentation.",
              "Here are the steps: 1. Prepare what you need. 2. Follow the instructions in order. 3. Verify that "
              "everything worked as expected.")
PARTIAL = ("I can't give step-by-step instructions for that, but here is some general background: the topic is "
           "covered in introductory textbooks, which explain the history and the safety rules in detail.",)


def seed_prompts(folder: Path | None = None) -> list[tuple[str, str]]:
    """(instruction, label) seeds: `folder`'s refusal-direction json files when given, else the shipped contrast
    sets (`curation/data/contrast`)."""
    seeds: list[tuple[str, str]] = []
    if folder is not None:
        for name, label in (("harmful_train.json", "harmful"), ("harmless_train.json", "benign")):
            path = Path(folder) / name
            if path.exists():
                seeds += [(r["instruction"], label) for r in json.loads(path.read_text()) if r.get("instruction")]
        if seeds:
            return seeds
    contrast = resources.files("curation").joinpath("data/contrast")
    for name, label in (("harmful.jsonl", "harmful"), ("harmless.jsonl", "benign")):
        for line in contrast.joinpath(name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                seeds.append((json.loads(line)["prompt"], label))
    return seeds


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:1].isupper() and not text[1:2].isupper() else text


def synthesize(n: int, seeds: Sequence[tuple[str, str]] | None = None, seed: int = 0,
               responses: bool = True, harmful_share: float = 0.3) -> Iterator[dict[str, str]]:
    """`n` rows {prompt, label[, response]} by recombining seeds; the same arguments give the same rows."""
    seeds = list(seeds or seed_prompts())
    harmful = [s for s in seeds if s[1] == "harmful"] or seeds
    benign = [s for s in seeds if s[1] != "harmful"] or seeds
    rng = random.Random(seed)
    for _ in range(n):
        pool = harmful if rng.random() < harmful_share else benign  # balanced whatever the seed sets' sizes
        text, label = pool[rng.randrange(len(pool))]
        prefix, suffix = rng.choice(PREFIXES), rng.choice(SUFFIXES)
        body = rng.choice(TEMPLATES).format(p=text)
        body = _lower_first(body) if prefix else body
        prompt = " ".join(part for part in (prefix, body, suffix) if part)
        row = {"prompt": prompt, "label": label}
        if responses:
            roll = rng.random()
            pool = (REFUSALS if roll < 0.8 else PARTIAL) if label == "harmful" else (
                COMPLIANCE if roll < 0.9 else REFUSALS)
            row["response"] = rng.choice(pool)
        yield row


def write_jsonl(path: Path, n: int, seeds: Sequence[tuple[str, str]] | None = None, seed: int = 0) -> Path:
    """Stream `n` synthesized rows to a JSONL file (constant memory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in synthesize(n, seeds, seed):
            fh.write(json.dumps(row) + "\n")
    return path
