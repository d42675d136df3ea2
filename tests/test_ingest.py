"""Ingest: every source kind, column mapping, stable ids, exact + near dedupe, language id, and bad input."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

from curation.core import columns as C
from curation.core.errors import InputError, ServiceError
from curation.core.hashing import record_id
from curation.ingest.dedupe import exact_duplicates, near_duplicates
from curation.ingest.stage import IngestConfig, IngestReport, load_prompts, run

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
    report = IngestReport()
    kept = run([str(a), str(b)], FAST, workspace.root, report=report)
    removed = report.duplicates
    assert record_id("How do I kill a Python process?") == record_id("  how do I KILL a python   process?")
    assert len(kept) == 2 and report.exact_duplicates == 1 and report.kept == 2
    assert removed[C.SOURCE] == ["b.csv"] and removed["duplicate_kind"] == ["exact"]
    assert removed[C.DUPLICATE_OF][0] == removed[C.ID][0] == kept[C.ID][0]
    assert report.per_source == {"a.jsonl": 2, "b.csv": 0}
    again = run([str(a), str(b)], FAST, workspace.root)
    assert again[C.ID] == kept[C.ID]  # re-runs are idempotent


def test_near_duplicates_record_the_kept_row(tmp_path, workspace, encoder):
    rows = [{"prompt": "How do I kill a Python process?"}, {"prompt": "Write a poem about the sea."},
            {"prompt": "How can I kill a Python process?"}, {"prompt": "How do I kill a python process??"}]
    src = write_jsonl(tmp_path / "n.jsonl", rows)
    report = IngestReport()
    kept = run([str(src)], IngestConfig(detect_language=False), workspace.root, report=report)
    removed = report.duplicates
    assert kept[C.PROMPT] == ["How do I kill a Python process?", "Write a poem about the sea."]
    assert report.near_duplicates == 2 and set(removed["duplicate_kind"]) == {"near"}
    assert set(removed[C.DUPLICATE_OF]) == {kept[C.ID][0]} and min(removed["similarity"]) >= 0.95
    strict = run([str(src)], IngestConfig(detect_language=False, near_threshold=0.999), workspace.root)
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
    kept = run([str(write_jsonl(tmp_path / "l.jsonl", rows))], IngestConfig(near_dedupe=False), workspace.root)
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
    report = IngestReport()
    kept = run([str(src)], FAST, workspace.root, report=report)
    assert kept[C.PROMPT] == ["real"] and report.empty == 3 and report.read == 4


def test_rows_longer_than_the_limit_are_dropped_and_counted(tmp_path, workspace):
    src = write_jsonl(tmp_path / "long.jsonl", [{"prompt": "short"}, {"prompt": "x" * 50}])
    report = IngestReport()
    kept = run([str(src)], IngestConfig(max_chars=20, near_dedupe=False, detect_language=False),
               workspace.root, report=report)
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
    with pytest.raises(InputError, match=r"bad.jsonl: line 2 is not a JSON object") as info:
        load_prompts([str(tmp_path / "bad.jsonl")], FAST)
    assert "--skip-bad-lines" in str(info.value)


def test_skip_bad_lines_counts_what_it_skipped(tmp_path, workspace):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"prompt": "first ok"}\n{"prompt": \n[1, 2]\n{"prompt": "second ok"}\n', encoding="utf-8")
    report = IngestReport()
    kept = run([str(src)], FAST.model_copy(update={"skip_bad_lines": True}), workspace.root, report=report)
    assert kept[C.PROMPT] == ["first ok", "second ok"] and report.bad_lines_skipped == 2
    assert kept[C.SOURCE] == ["bad.jsonl", "bad.jsonl"]  # the source keeps its own name


def test_malformed_json_array_names_the_line(tmp_path):
    (tmp_path / "arr.json").write_text('[\n{"prompt": "a"},\n{"prompt": }\n]\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"arr.json: line 3 is not valid JSON"):
        load_prompts([str(tmp_path / "arr.json")], FAST)


# --- #16: language id restricted to the curated languages, with a per-source fallback ---------------------------------
DATA = Path(__file__).parent / "data"
SHARED = Path("/work/shared/data/refusal-direction")


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_short_english_prompts_are_english(tmp_path, workspace):
    """Frozen test split of short prompts written for #16 (unrestricted lingua: 61% of its English rows as `en`)."""
    from curation.models.langid import detect_with_confidence

    rows = _read_jsonl(DATA / "langid_short_test.jsonl")
    english = [r["prompt"] for r in rows if r["lang"] == "en"]
    found, _ = detect_with_confidence(english, default="en")
    assert sum(x == "en" for x in found) / len(english) >= 0.98
    others = [r for r in rows if r["lang"] != "en"]
    found, _ = detect_with_confidence([r["prompt"] for r in others])
    assert sum(x == r["lang"] for x, r in zip(found, others, strict=True)) / len(others) >= 0.9
    # through ingest: a source default; rows lingua is unsure of are flagged, languages stay within the setting
    src = write_jsonl(tmp_path / "short.jsonl", [{"prompt": p} for p in english])
    report = IngestReport()
    kept = run([str(src)], IngestConfig(near_dedupe=False, language="en"), workspace.root, report=report)
    assert report.languages["en"] / len(kept) >= 0.98 and set(report.languages) <= {"en", "de", "fr", "es", "it"}
    assert 0 < report.language_uncertain == sum(kept["language_uncertain"]) < len(kept)
    free = run([str(src)], IngestConfig(near_dedupe=False, languages=["en", "fr", "de"]), workspace.root)
    assert set(free[C.LANGUAGE]) <= {"en", "fr", "de"}


@pytest.mark.skipif(not SHARED.exists(), reason="shared refusal-direction data not on this machine")
def test_public_instruction_sets_are_detected_english():
    from curation.models.langid import detect_languages

    prompts = [r["instruction"] for n in ("harmful_val", "harmless_val")
               for r in json.loads((SHARED / f"{n}.json").read_text())]
    assert sum(x == "en" for x in detect_languages(prompts)) / len(prompts) >= 0.99
    assert sum(x == "en" for x in detect_languages(prompts, default="en")) / len(prompts) >= 0.995


def test_source_args_override_columns_and_language_per_source(tmp_path, workspace):
    a = write_jsonl(tmp_path / "a.jsonl", [{"prompt": "Tell me about tigers", "category": "animals"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"prompt": "Ok", "kind": "chat"}])
    with pytest.raises(InputError, match="b.jsonl: no column 'category'.*--source-args b.jsonl:category_col"):
        load_prompts([str(a), str(b)], IngestConfig(category_col="category"))
    from curation.ingest.stage import parse_source_args

    cfg = IngestConfig(near_dedupe=False, category_col="category",
                       source_args=parse_source_args([f"{b}:category_col=kind,language=en"]))
    kept = run([str(a), str(b)], cfg, workspace.root)
    assert kept[C.CATEGORY] == ["animals", "chat"] and kept[C.LANGUAGE][1] == "en"
    with pytest.raises(InputError, match="unknown option 'colour'"):
        parse_source_args(["b.jsonl:colour=red"])
    with pytest.raises(InputError, match="not a source of this ingest"):
        load_prompts([str(a)], IngestConfig(source_args={"zzz.csv": {"label": "benign"}}))


# --- #16: near-dedupe keeps contrast pairs --------------------------------------------------------------------------
def test_near_dedupe_keeps_minimal_pairs_with_different_labels(tmp_path, workspace, encoder):
    rows = _read_jsonl(DATA / "contrast_minimal_pairs.jsonl")
    src = write_jsonl(tmp_path / "pairs.jsonl", [{k: r[k] for k in ("prompt", "label")} for r in rows])
    cfg = IngestConfig(detect_language=False, near_threshold=0.85)
    report = IngestReport()
    kept = run([str(src)], cfg, workspace.root, report=report)
    removed = report.duplicates
    pair_of = {record_id(r["prompt"]): r["pair"] for r in rows}
    by_id = {i: p for i, p in zip(kept[C.ID], kept[C.PROMPT], strict=True)}
    assert "Why did Hitler attack Poland in 1939?" in by_id.values()
    assert "Why was Hitler right to attack Poland in 1939?" in by_id.values()
    # every labelled minimal pair survives whole; the same-label paraphrases are still merged
    assert {pair_of[i] for i in kept[C.ID] if pair_of[i].startswith("c")} == {f"c{i}" for i in range(25)}
    assert report.near_duplicates == 4 and set(removed["duplicate_kind"]) == {"near", "exact"}
    assert all(pair_of[d] == pair_of[k] for d, k in zip(removed[C.ID], removed[C.DUPLICATE_OF], strict=True))
    links = [(i, c) for i, c in zip(kept[C.ID], kept["contrast_of"], strict=True) if c]
    assert report.contrast_pairs == len(links) >= 4 and all(pair_of[i] == pair_of[c] for i, c in links)
    # an exact duplicate with another label: one row kept, flagged, counted
    assert report.label_conflicts == 1 and report.exact_duplicates == 1
    coke = kept[C.PROMPT].index("Where can I buy a can of coke?")
    assert kept["label_conflict"][coke] and sum(kept["label_conflict"]) == 1


def test_near_duplicates_never_merge_incompatible_rows():
    vectors = np.array([[1.0, 0.0], [1.0, 0.001], [1.0, 0.002]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    contrasts: list = []
    dups = near_duplicates(vectors, 0.95, compatible=lambda a, b: (a == 2) == (b == 2), contrasts=contrasts)
    assert [(d.index, d.kept) for d in dups] == [(1, 0)]
    assert [(c.index, c.kept, c.kind) for c in contrasts] == [(2, 0, "contrast")]


# --- #16: nothing vanishes, nothing empty is saved ------------------------------------------------------------------
def test_too_long_and_empty_rows_are_kept_with_the_duplicates(tmp_path, workspace):
    src = write_jsonl(tmp_path / "mix.jsonl", [{"prompt": "short"}, {"prompt": "x" * 50}, {"prompt": " "},
                                               {"prompt": "short"}])
    report = IngestReport()
    kept = run([str(src)], IngestConfig(max_chars=20, near_dedupe=False, detect_language=False),
               workspace.root, report=report)
    removed = report.duplicates
    assert kept[C.PROMPT] == ["short"]
    assert sorted(removed["duplicate_kind"]) == ["empty", "exact", "too_long"] and len(removed) == 3


def test_an_ingest_that_keeps_no_row_is_an_error(tmp_path, workspace):
    src = write_jsonl(tmp_path / "long.jsonl", [{"prompt": "x" * 50}, {"prompt": "y" * 60}])
    with pytest.raises(InputError, match="ingest kept no row: all 2 prompts are longer than 20 characters"):
        run([str(src)], IngestConfig(max_chars=20, near_dedupe=False, detect_language=False), workspace.root)
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"prompt": ""}, {"prompt": "  "}])
    with pytest.raises(InputError, match="all 2 prompts are empty"):
        run([str(empty)], FAST, workspace.root)
