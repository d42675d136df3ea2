"""Build the contextual harm training set (`curation/data/harm/train.jsonl`) from the template tables, filtered
with the harm-cue lexicons and kept apart from the held-out eval set.

Each row: prompt, label (harmful/benign), kind (unsafe / scary_safe / plain), lang, category, pair (minimal
contrast pairs share it), lexicon_hit (a shipped lexicon entry occurs in the prompt), source.
Run `python -m curation.models.harm.data` to rebuild (deterministic, seeded).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from curation.models.harm.templates import TABLES

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
HARM_DIR = DATA_DIR / "harm"
TRAIN_PATH = HARM_DIR / "train.jsonl"
LANGUAGES = ("en", "fr", "de", "es", "it")
KIND_LEVEL = {"plain": 0, "scary_safe": 1, "unsafe": 2}
# Hard negatives of these categories must carry a lexicon cue, or they teach nothing about harm words.
NEEDS_CUE = {"homonym", "figurative", "safe_context"}


@lru_cache(maxsize=8)
def _lexicon_pattern(lang: str) -> re.Pattern[str]:
    """One regex of every shipped lexicon entry of `lang`, allowing a short inflection suffix."""
    from curation.models.lexicon_files import LEXICON_ROOT, read_lexicon_path

    folder = LEXICON_ROOT / lang
    phrases = sorted({e.phrase.lower() for e in read_lexicon_path(folder)}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\w{0,4}\b", re.IGNORECASE)


def lexicon_hits(text: str, lang: str) -> list[str]:
    """Lexicon entries (surface forms) found in `text` by the `lang` lexicon (English when none is shipped)."""
    return [m.group(0).lower() for m in _lexicon_pattern(lang if lang in LANGUAGES else "en").finditer(text)]


def _row(prompt: str, kind: str, lang: str, category: str, pair: str | None = None,
         source: str = "template") -> dict[str, Any]:
    prompt = re.sub(r"\s+", " ", prompt).strip()
    if lang == "fr":  # contractions the slot filling breaks: "de le" -> "du", "à le" -> "au"
        for a, b in ((" de le ", " du "), (" de les ", " des "), (" à le ", " au "), (" à les ", " aux ")):
            prompt = prompt.replace(a, b)
    prompt = prompt[0].upper() + prompt[1:]
    return {"prompt": prompt, "label": "harmful" if kind == "unsafe" else "benign", "kind": kind, "lang": lang,
            "category": category, "pair": pair, "source": source}


def _fill(frames: Sequence[str], **slots: Sequence[Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """Every frame filled with every combination of the slot values it uses."""
    for frame in frames:
        names = [n for n in slots if "{" + n + "}" in frame]
        combos: list[dict[str, Any]] = [{}]
        for n in names:
            combos = [{**c, n: v} for c in combos for v in slots[n]]
        for c in combos:
            yield frame.format(**c), c


def language_rows(lang: str, rng: random.Random) -> list[dict[str, Any]]:
    """All template rows of one language (contrast pairs, hard negatives, hard positives, plain)."""
    t: dict[str, Any] = TABLES[lang]
    rows: list[dict[str, Any]] = []
    verb_first = lang != "de"
    for v, (benign, harmful) in t["verbs"].items():
        for f, frame in enumerate(t["frames"]):
            for i, obj in enumerate(benign):
                bad = harmful[(i + f) % len(harmful)]
                pid = f"{lang}-verb-{v}-{f}-{i}"
                safe_x, unsafe_x = (f"{v} {obj}", f"{v} {bad}") if verb_first else (f"{obj} {v}", f"{bad} {v}")
                rows.append(_row(frame.format(x=safe_x), "scary_safe", lang, "homonym", pid))
                rows.append(_row(frame.format(x=unsafe_x), "unsafe", lang, "contrast", pid))
    if "figurative" in t:
        fg = t["figurative"]
        rows += [_row(s, "scary_safe", lang, "figurative") for s, _ in _fill(fg["frames"], v=fg["verbs"],
                                                                            e=fg["events"])]
    if "contexts" in t:
        cx = t["contexts"]
        rows += [_row(s, "scary_safe", lang, "safe_context") for s, _ in _fill(cx["frames"], g=cx["games"],
                                                                              a=cx["acts"])]
    if "fiction" in t:
        rows += [_row(s, "scary_safe", lang, "fiction") for s, _ in _fill(t["fiction"], c=t["fiction_things"])]
    rows += [_row(s, "scary_safe", lang, "definition") for s, _ in _fill(t["definitions"], t=t["terms"])]
    rows += [_row(s, "scary_safe", lang, "history") for s, _ in _fill(t["history"], h=t["events"])]
    rows += [_row(s, "unsafe", lang, "privacy_private") for s, _ in _fill(t["privacy_private"],
                                                                          p=t["private_people"])]
    rows += [_row(s, "scary_safe", lang, "privacy_public") for s, _ in _fill(t["privacy_public"],
                                                                             p=t["public_people"])]
    for g, (group, neg) in enumerate(t["groups"]):
        pid = f"{lang}-disc-{g}"
        rows += [_row(f.format(g=group, n=neg), "unsafe", lang, "discrimination", pid)
                 for f in t["discrimination_unsafe"]]
        rows += [_row(f.format(g=group, n=neg), "scary_safe", lang, "discrimination", pid)
                 for f in t["discrimination_safe"]]
    rows += [_row(s, "unsafe", lang, "euphemism") for s, _ in _fill(t["euphemism"], p=t["euphemism_people"])]
    rows += [_row(s, "scary_safe", lang, "euphemism_contrast") for s in t["euphemism_safe"]]
    rows += [_row(s, "plain", lang, "plain") for s in t["plain"]]
    if "plain_tasks" in t:
        rows += [_row(f.format(x=task), "plain", lang, "plain") for f in t["frames"] for task in t["plain_tasks"]]
    return rows


def contrast_rows() -> list[dict[str, Any]]:
    """The built-in contrast set (`curation/data/contrast`): harmful -> unsafe; harmless -> scary_safe when a
    lexicon cue occurs, else plain."""
    rows = []
    for name in ("harmful", "harmless"):
        for line in (DATA_DIR / "contrast" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                text = json.loads(line)["prompt"]
                kind = "unsafe" if name == "harmful" else ("scary_safe" if lexicon_hits(text, "en") else "plain")
                rows.append(_row(text, kind, "en", "contrast_set", source="curation/data/contrast"))
    return rows


def _norm(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


def eval_texts() -> set[str]:
    """Normalised prompts of the held-out eval set (dev and test): never used as training rows."""
    out = set()
    for split in ("dev", "test"):
        path = DATA_DIR / "eval" / f"harm_contextual_{split}.jsonl"
        if path.exists():
            out |= {_norm(json.loads(line)["text"]) for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip()}
    return out


NEAR_EVAL_COSINE = 0.85


def near_eval(prompts: Sequence[str], threshold: float = NEAR_EVAL_COSINE) -> list[bool]:
    """Whether each prompt is a near-paraphrase (MiniLM cosine >= threshold) of a held-out eval prompt."""
    import numpy as np

    from curation.models.embeddings import encoder_from_spec

    held = []
    for split in ("dev", "test"):
        path = DATA_DIR / "eval" / f"harm_contextual_{split}.jsonl"
        if path.exists():
            held += [json.loads(x)["text"] for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    if not held:
        return [False] * len(prompts)
    enc = encoder_from_spec("all-MiniLM-L6-v2")
    sims = enc.encode(list(prompts)) @ enc.encode(held).T
    return list(np.asarray(sims.max(axis=1) >= threshold))


def build(seed: int = 0, decontaminate: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All rows (deduplicated, lexicon-filtered, eval-decontaminated) and counts of what was dropped."""
    rng = random.Random(seed)
    held_out = eval_texts()
    rows, seen = [], set()
    dropped: Counter[str] = Counter()
    for row in [r for lang in LANGUAGES for r in language_rows(lang, rng)] + contrast_rows():
        key = _norm(row["prompt"])
        if key in seen:
            dropped["duplicate"] += 1
            continue
        if key in held_out:
            dropped["in_eval_set"] += 1
            continue
        hits = lexicon_hits(row["prompt"], row["lang"])
        row["lexicon_hit"] = bool(hits)
        if row["kind"] == "scary_safe" and row["category"] in NEEDS_CUE and not hits:
            dropped["hard_negative_without_cue"] += 1
            continue
        seen.add(key)
        rows.append(row)
    if decontaminate:
        near = near_eval([r["prompt"] for r in rows])
        dropped["near_eval_paraphrase"] = int(sum(near))
        rows = [r for r, n in zip(rows, near, strict=True) if not n]
    stats = {"rows": len(rows), "dropped": dict(dropped),
             "by_lang_kind": dict(Counter(f"{r['lang']}/{r['kind']}" for r in rows)),
             "by_category": dict(Counter(f"{r['category']}/{r['kind']}" for r in rows)),
             "unsafe_without_cue": sum(1 for r in rows if r["kind"] == "unsafe" and not r["lexicon_hit"]),
             "pairs": len({r["pair"] for r in rows if r["pair"]})}
    return rows, stats


def load_train(path: Path = TRAIN_PATH) -> list[dict[str, Any]]:
    """Rows of the shipped training set."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    """Rebuild `curation/data/harm/train.jsonl` and print the counts."""
    from curation.core.workspace import atomic_write_text

    rows, stats = build()
    HARM_DIR.mkdir(parents=True, exist_ok=True)
    atomic_write_text(TRAIN_PATH, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(json.dumps(stats, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
