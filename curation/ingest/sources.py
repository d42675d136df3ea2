"""Readers for every kind of prompt source, registered by kind; each returns a raw `datasets.Dataset`."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

from curation.core.errors import InputError, ServiceError
from curation.core.progress import datasets_progress
from curation.core.registry import resolve, sources

LONG_FILE_BYTES = 20 * 2**20  # files this big get datasets' own progress bar while parsing
FILE_KINDS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".parquet": "parquet"}


@dataclass(frozen=True)
class SourceSpec:
    """Where prompts come from: a local path or a Hub id `owner/name[:config][@split]`."""

    raw: str
    kind: str
    location: str
    config: str | None = None
    split: str | None = None

    @property
    def name(self) -> str:
        return Path(self.location).name if self.kind != "hub" else self.raw


def parse_source(raw: str) -> SourceSpec:
    """Classify a source string by file suffix, folder, or Hub id syntax."""
    path = Path(raw)
    if path.is_dir():
        return SourceSpec(raw, "disk", str(path))
    if path.suffix.lower() in FILE_KINDS:
        if not path.exists():
            raise InputError(f"file not found: {raw}", "check the path")
        return SourceSpec(raw, FILE_KINDS[path.suffix.lower()], str(path))
    if path.exists():
        raise InputError(
            f"unsupported file type '{path.suffix}' for {raw}",
            f"use one of {', '.join(sorted(FILE_KINDS))}, a save_to_disk folder, or a Hub id",
        )
    if raw.startswith((".", "/", "~")) or raw.count("/") > 1:
        raise InputError(f"file not found: {raw}", "check the path")
    repo, _, split = raw.partition("@")
    repo, _, config = repo.partition(":")
    return SourceSpec(raw, "hub", repo, config or None, split or None)


def check_utf8(path: Path) -> None:
    """Fail with file and line when a text file is not UTF-8 (before a parser hides where)."""
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(
                    f"{path}: line {lineno} is not valid UTF-8 (byte {line[err.start]:#x} at column {err.start + 1})",
                    "re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`",
                ) from None


def _is_blank(path: Path, limit: int = 65536) -> bool:
    """True for an empty or whitespace-only file (the parsers fail on it with an unhelpful message)."""
    with open(path, "rb") as fh:
        head = fh.read(limit + 1)
    return len(head) <= limit and not head.strip()


def _text_reader(builder: str, text: bool = True, **kwargs: object):
    def read(spec: SourceSpec) -> Dataset:
        path = Path(spec.location)
        if path.is_file() and _is_blank(path):
            raise InputError(f"{spec.location} is empty", "give a file with a header or at least one row")
        if text:  # parquet is binary: its strings are checked by the parser
            check_utf8(path)
        try:
            with datasets_progress(path.stat().st_size > LONG_FILE_BYTES):
                return load_dataset(builder, data_files=spec.location, split="train", **kwargs)
        except Exception as err:  # noqa: BLE001 - parser errors are user input errors here
            first = (str(err).splitlines() or [type(err).__name__])[0]
            raise InputError(f"could not parse {spec.location}: {first}",
                             f"check that it is valid {builder.upper()}") from None
    return read


sources.register("csv.v1", func=_text_reader("csv"))
sources.register("tsv.v1", func=_text_reader("csv", sep="\t"))
sources.register("json.v1", func=_text_reader("json"))
sources.register("jsonl.v1", func=_text_reader("json"))
sources.register("parquet.v1", func=_text_reader("parquet", text=False))


@sources.register("disk.v1")
def read_disk(spec: SourceSpec) -> Dataset:
    try:
        loaded = load_from_disk(spec.location)
    except FileNotFoundError:
        raise InputError(f"{spec.location} is a folder but not a saved dataset",
                         "pass a folder written by Dataset.save_to_disk") from None
    if isinstance(loaded, DatasetDict):
        split = spec.split or ("train" if "train" in loaded else next(iter(loaded)))
        return loaded[split]
    return loaded


@sources.register("hub.v1")
def read_hub(spec: SourceSpec) -> Dataset:
    try:
        loaded = load_dataset(spec.location, spec.config, split=spec.split)
    except Exception as err:  # noqa: BLE001 - network, auth and not-found all become one clear line
        first = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise ServiceError(
            f"could not load Hub dataset '{spec.location}': no network or not found ({first})",
            "check the id and your connection, or download it and ingest the local files",
        ) from None
    if isinstance(loaded, DatasetDict):
        split = "train" if "train" in loaded else next(iter(loaded))
        return loaded[split]
    return loaded


def check_json_lines(path: Path, skip_bad_lines: bool = False) -> tuple[Path, int]:
    """Validate a JSON Lines file line by line before the parser sees it (which names no line). A bad line is an
    InputError naming file and line; with `skip_bad_lines` the good lines go to a temporary file (returned) and the
    bad ones are counted."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        head = fh.read(4096).lstrip()
    if head.startswith("["):  # one JSON document (an array): json names the line of a syntax error
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: line {err.lineno} is not valid JSON ({err.msg})",
                             "fix that line (a JSON array cannot skip lines)") from None
        return path, 0
    bad: list[int] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                ok = isinstance(json.loads(line), dict)
            except json.JSONDecodeError:
                ok = False
            if not ok:
                if not skip_bad_lines:
                    raise InputError(f"{path}: line {lineno} is not a JSON object",
                                     "fix or remove that line, or pass --skip-bad-lines to skip malformed lines")
                bad.append(lineno)
    if not bad:
        return path, 0
    fd, tmp = tempfile.mkstemp(suffix=".jsonl", prefix="curate-clean-")
    skip = set(bad)
    with os.fdopen(fd, "w", encoding="utf-8") as out, open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno not in skip:
                out.write(line)
    return Path(tmp), len(bad)


def read_source(raw: str, skip_bad_lines: bool = False) -> tuple[SourceSpec, Dataset, int]:
    """(spec, raw rows, malformed lines skipped) of one source."""
    spec = parse_source(raw)
    skipped, read_spec = 0, spec
    if spec.kind in ("json", "jsonl"):
        path = Path(spec.location)
        if not _is_blank(path):
            check_utf8(path)
            clean, skipped = check_json_lines(path, skip_bad_lines)
            read_spec = replace(spec, location=str(clean))
    try:
        return spec, resolve(sources, spec.kind, "source kind")(read_spec), skipped
    finally:
        if read_spec is not spec and read_spec.location != spec.location:
            Path(read_spec.location).unlink(missing_ok=True)
