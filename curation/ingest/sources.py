"""Readers for every kind of prompt source, registered by kind; each returns a raw `datasets.Dataset`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

from ..errors import InputError, ServiceError
from ..progress import datasets_progress
from ..registry import resolve, sources

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


sources.register("csv", func=_text_reader("csv"))
sources.register("tsv", func=_text_reader("csv", sep="\t"))
sources.register("json", func=_text_reader("json"))
sources.register("jsonl", func=_text_reader("json"))
sources.register("parquet", func=_text_reader("parquet", text=False))


@sources.register("disk")
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


@sources.register("hub")
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


def read_source(raw: str) -> tuple[SourceSpec, Dataset]:
    spec = parse_source(raw)
    return spec, resolve(sources, spec.kind, "source kind")(spec)
