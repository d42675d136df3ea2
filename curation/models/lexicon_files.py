"""Harm-cue lexicon files: the shipped data (`curation/data/lexicons/<lang>/<category>.txt`) and its format (one
phrase per line, `phrase | weight`, `#` comments). Read by the triggers stage (matching) and the harm model (its
training data), so it lives below both."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from curation.core.errors import InputError

LEXICON_ROOT = Path(__file__).resolve().parent.parent / "data" / "lexicons"
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]*$")
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Entry:
    """One cue: a base-form word or phrase, its category, its strength in (0, 1], and where it came from."""

    phrase: str
    category: str
    weight: float
    origin: str


def parse_lexicon_file(path: Path, category: str | None = None) -> list[Entry]:
    """Read one lexicon file: an entry per line (`phrase` or `phrase | weight`), `#` comments.

    Raises InputError naming the file and line of the first bad entry."""
    path = Path(path)
    category = category or path.stem.lower().replace("-", "_")
    if not _CATEGORY.match(category):
        raise InputError(f"lexicon file {path}: category name '{category}' (from the file name) is not valid",
                         "name lexicon files like violence.txt or self_harm.txt (letters, digits, '_')")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"lexicon file {path} does not exist", "pass an existing .txt file or folder") from None
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise InputError(f"lexicon file {path}, line {line}: not valid UTF-8", "save the file as UTF-8") from None
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        phrase, sep, weight_text = (part.strip() for part in line.partition("|"))
        where = f"lexicon file {path}, line {number}"
        if _BAD_CHARS.search(phrase) or "|" in weight_text:
            raise InputError(f"{where}: {raw.strip()!r} has control characters or more than one '|'",
                             "write one phrase per line, optionally followed by '| weight'")
        if not re.search(r"\w", phrase):
            raise InputError(f"{where}: {raw.strip()!r} has no word characters", "write a word or phrase")
        weight = 1.0
        if sep:
            try:
                weight = float(weight_text)
            except ValueError:
                raise InputError(f"{where}: weight {weight_text!r} is not a number",
                                 "write e.g. 'shoot | 0.7' (a weight in (0, 1])") from None
            if not 0 < weight <= 1:
                raise InputError(f"{where}: weight {weight} is outside (0, 1]", "use a weight in (0, 1]")
        entries.append(Entry(phrase, category, weight, f"{path.name}:{number}"))
    return entries


def read_lexicon_path(path: Path | str) -> list[Entry]:
    """Entries of a lexicon file, or of every .txt file in a folder (category = file name)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise InputError(f"lexicon folder {path} has no .txt files", "add files like violence.txt")
        return [e for f in files for e in parse_lexicon_file(f)]
    if not path.exists():
        raise InputError(f"lexicon file {path} does not exist", "pass an existing .txt file or folder")
    return parse_lexicon_file(path)


def shipped_languages() -> list[str]:
    return sorted(p.name for p in LEXICON_ROOT.iterdir() if p.is_dir())
