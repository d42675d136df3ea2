"""Ingest: every source kind, column mapping, stable ids, exact + near dedupe, language id, and bad input."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

from curation import columns as C
from curation.errors import InputError, ServiceError
from curation.hashing import record_id
from curation.ingest import IngestConfig, load_prompts, run
from curation.ingest.dedupe import exact_duplicates, near_duplicates

FAST = IngestConfig(near_dedupe=False, detect_language=False)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict], delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def all_kinds(tmp_path: Path) -> list[str]:
    """One source of each kind, each with a different prompt column name."""
    paths = [
        write_csv(tmp_path / "a.csv", [{"prompt": "csv prompt one", "label": "harmful"}]),
        write_csv(tmp_path / "b.tsv", [{"instruction": "tsv prompt, with comma", "category": "x"}], "\t"),
        write_jsonl(tmp_path / "c.jsonl", [{"goal": "jsonl prompt", "target": "Sure, here it is"}]),
    ]
    (tmp_path / "d.json").write_text(json.dumps([{"question": "json prompt", "lang": "en"}]), encoding="utf-8")
    Dataset.from_dict({"query": ["parquet prompt"]}).to_parquet(str(tmp_path / "e.parquet"))
    Dataset.from_dict({"text": ["disk prompt"], "extra": [3]}).save_to_disk(str(tmp_path / "f_saved"))
    return [str(p) for p in paths] + [str(tmp_path / n) for n in ("d.json", "e.parquet", "f_saved")]


def test_every_source_kind_into_one_normalized_dataset(all_kinds):
    ds = load_prompts(all_kinds, FAST)
    assert list(ds.column_names) == list(C.NORMALIZED_COLUMNS)
    assert ds[C.PROMPT] == ["csv prompt one", "tsv prompt, with comma", "jsonl prompt", "json prompt",
                            "parquet prompt", "disk prompt"]
    assert ds[C.SOURCE] == ["a.csv", "b.tsv", "c.jsonl", "d.json", "e.parquet", "f_saved"]
    assert ds[C.LABEL] == ["harmful", "unknown", "unknown", "unknown", "unknown", "unknown"]
    assert ds[C.RESPONSE][2] == "Sure, here it is" and ds[C.CATEGORY][1] == "x" and ds[C.LANGUAGE][3] == "en"
    assert json.loads(ds[C.META][5]) == {"extra": 3}
    assert all(ds.features[c].dtype == "string" for c in (C.RESPONSE, C.LANGUAGE, C.CATEGORY))


def test_column_flags_and_extra_columns_in_meta(tmp_path):
    src = write_jsonl(tmp_path / "s.jsonl", [{"body": "Tell me a joke", "is_bad": "safe", "lng": "en", "note": "n1"}])
    cfg = IngestConfig(prompt_col="body", label_col="is_bad", lang_col="lng", near_dedupe=False)
    ds = load_prompts([str(src)], cfg)
    assert ds[C.PROMPT] == ["Tell me a joke"] and ds[C.LABEL] == ["benign"] and ds[C.LANGUAGE] == ["en"]
    assert json.loads(ds[C.META][0]) == {"note": "n1"}
    fixed = load_prompts([str(src)], IngestConfig(prompt_col="body", label="harmful", label_col="is_bad"))
    assert fixed[C.LABEL] == ["harmful"]


def test_stable_ids_and_exact_duplicates_point_to_kept_row(tmp_path, workspace):
    a = write_jsonl(tmp_path / "a.jsonl", [{"prompt": "How do I kill a Python process?"}, {"prompt": "Other"}])
    b = write_csv(tmp_path / "b.csv", [{"prompt": "  how do I KILL a python   process?"}])
    kept, removed, report = run([str(a), str(b)], FAST, workspace.root)
    assert record_id("How do I kill a Python process?") == record_id("  how do I KILL a python   process?")
    assert len(kept) == 2 and report.exact_duplicates == 1 and report.kept == 2
    assert removed[C.SOURCE] == ["b.csv"] and removed["duplicate_kind"] == ["exact"]
    assert removed[C.DUPLICATE_OF][0] == removed[C.ID][0] == kept[C.ID][0]
    assert report.per_source == {"a.jsonl": 2, "b.csv": 0}
    again, _, _ = run([str(a), str(b)], FAST, workspace.root)
    assert again[C.ID] == kept[C.ID]  # re-runs are idempotent


def test_near_duplicates_record_the_kept_row(tmp_path, workspace, encoder):
    rows = [{"prompt": "How do I kill a Python process?"}, {"prompt": "Write a poem about the sea."},
            {"prompt": "How can I kill a Python process?"}, {"prompt": "How do I kill a python process??"}]
    src = write_jsonl(tmp_path / "n.jsonl", rows)
    kept, removed, report = run([str(src)], IngestConfig(detect_language=False), workspace.root)
    assert kept[C.PROMPT] == ["How do I kill a Python process?", "Write a poem about the sea."]
    assert report.near_duplicates == 2 and set(removed["duplicate_kind"]) == {"near"}
    assert set(removed[C.DUPLICATE_OF]) == {kept[C.ID][0]} and min(removed["similarity"]) >= 0.95
    strict, _, _ = run([str(src)], IngestConfig(detect_language=False, near_threshold=0.999), workspace.root)
    assert len(strict) == 4


def test_near_duplicates_scale_and_point_to_kept_rows():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2000, 64)).astype(np.float32)
    noisy = base[:500] + 0.01 * rng.normal(size=(500, 64)).astype(np.float32)
    vectors = np.concatenate([base, noisy])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    dups = near_duplicates(vectors, 0.95)
    dropped = {d.index for d in dups}
    assert dropped == set(range(2000, 2500))
    assert all(d.kept not in dropped and d.kept == d.index - 2000 and d.similarity >= 0.95 for d in dups)


def test_exact_duplicates_normalize_quotes_and_case():
    dups = exact_duplicates(["It\u2019s fine", "it's   FINE", "other"])
    assert [(d.index, d.kept) for d in dups] == [(1, 0)]


def test_language_identification(tmp_path, workspace):
    rows = [{"prompt": "How do I bake bread at home?"}, {"prompt": "Comment faire une tarte aux pommes à la maison ?"},
            {"prompt": "Wie backe ich zu Hause ein Brot?"}, {"prompt": "¿Cómo hago pan en casa sin horno?"},
            {"prompt": "Bonjour tout le monde", "language": "fr"}]
    kept, _, _ = run([str(write_jsonl(tmp_path / "l.jsonl", rows))], IngestConfig(near_dedupe=False), workspace.root)
    assert kept[C.LANGUAGE] == ["en", "fr", "de", "es", "fr"]


# --- bad input ------------------------------------------------------------------------------------------------------
def test_missing_file():
    with pytest.raises(InputError, match="file not found: nowhere/missing.csv"):
        load_prompts(["nowhere/missing.csv"], FAST)


def test_unknown_prompt_column_lists_columns(tmp_path):
    src = write_jsonl(tmp_path / "x.jsonl", [{"body": "hi", "meta_a": 1}])
    with pytest.raises(InputError, match="no prompt column found; columns found: body, meta_a"):
        load_prompts([str(src)], FAST)
    with pytest.raises(InputError, match="no column 'nope' for prompt; columns found: body, meta_a"):
        load_prompts([str(src)], IngestConfig(prompt_col="nope"))


def test_empty_prompts_are_dropped_and_counted(tmp_path, workspace):
    src = write_jsonl(tmp_path / "e.jsonl", [{"prompt": "real"}, {"prompt": "   "}, {"prompt": ""}, {"prompt": None}])
    kept, _, report = run([str(src)], FAST, workspace.root)
    assert kept[C.PROMPT] == ["real"] and report.empty == 3 and report.read == 4


def test_rows_longer_than_the_limit_are_dropped_and_counted(tmp_path, workspace):
    src = write_jsonl(tmp_path / "long.jsonl", [{"prompt": "short"}, {"prompt": "x" * 50}])
    kept, _, report = run([str(src)], IngestConfig(max_chars=20, near_dedupe=False, detect_language=False),
                          workspace.root)
    assert kept[C.PROMPT] == ["short"] and report.too_long == 1


def test_non_utf8_bytes_name_file_and_line(tmp_path):
    src = tmp_path / "latin.csv"
    src.write_bytes("prompt\nfine\ncaf\xe9 cr\xe8me\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin.csv: line 3 is not valid UTF-8"):
        load_prompts([str(src)], FAST)


def test_unknown_label_value(tmp_path):
    src = write_jsonl(tmp_path / "lab.jsonl", [{"prompt": "p", "label": "spicy"}])
    with pytest.raises(InputError, match="unknown label 'spicy'"):
        load_prompts([str(src)], FAST)


def test_unsupported_file_type(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="unsupported file type '.txt'"):
        load_prompts([str(tmp_path / "notes.txt")], FAST)


def test_unreachable_hub_id_is_one_clear_service_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ServiceError, match="no network or not found") as info:
        load_prompts(["no-such-org/no-such-set"], FAST)
    assert time.monotonic() - start < 20
    assert "\n" not in str(info.value)


def test_malformed_json_is_an_input_error(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"prompt": "ok"}\n{"prompt": \n', encoding="utf-8")
    with pytest.raises(InputError, match="could not parse"):
        load_prompts([str(tmp_path / "bad.jsonl")], FAST)
