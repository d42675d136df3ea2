"""Precision of the span suggestions pushed to Argilla, by score threshold, on a small hand-labelled set.

`benchmarks/data/suggest_spans_{dev,test}.jsonl`: prompts written for this check (not from any public benchmark),
each with its label and gold cue words (`harmful_cue` / `benign_homonym`). The threshold is chosen on dev; test is
frozen (sha256 in docs/human-review.md). Runs the triggers stage as the demo does (probe fit on the built-in
contrast set) and reports, per threshold: pushed cue spans per prompt (benign / harmful), precision of location
(overlaps a gold cue) and of location + label, with and without the top-cue rule.
`python benchmarks/bench_suggestions.py [--split test]`."""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

from datasets import Dataset

from curation.annotate.push import CUE_LABELS, SuggestConfig, filter_spans
from curation.core import columns as C
from curation.core.hashing import record_id

DATA = Path(__file__).parent / "data"
THRESHOLDS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def gold_spans(row: dict) -> list[tuple[str, int, int]]:
    out = []
    for word, label in row["cues"]:
        at = row["prompt"].find(word)
        assert at >= 0, (word, row["prompt"])
        out.append((label, at, at + len(word)))
    return out


def tag(rows: list[dict]) -> list[list[dict]]:
    """The triggers stage's spans for every prompt (a probe fit on the built-in contrast set, like the demo)."""
    from curation.active_learning.stage import contrast_prompts
    from curation.models.embeddings import get_encoder, workspace_cache
    from curation.models.probe import default_probe_dir, fit_probe
    from curation.triggers.stage import TriggersConfig, run

    root = Path(tempfile.mkdtemp(prefix="bench_suggest_"))
    encoder = get_encoder()
    cache = workspace_cache(root, encoder.model_id)
    harmful, harmless = contrast_prompts()
    fit_probe(harmful, harmless, encoder, cache).save(default_probe_dir(root))
    cache.close()
    ds = Dataset.from_dict({C.ID: [record_id(r["prompt"]) for r in rows], C.PROMPT: [r["prompt"] for r in rows],
                            C.LANGUAGE: [r.get("language", "en") for r in rows]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(run(ds, TriggersConfig(), root, show_progress=False)[C.TRIGGER_SPANS])


def overlaps(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def measure(rows: list[dict], spans: list[list[dict]], cfg: SuggestConfig | None) -> dict:
    """Pushed spans per prompt by label, and their precision; cfg None = every span (the old behaviour)."""
    per = {"benign": [], "harmful": []}
    loc = exact = total = 0
    for row, found in zip(rows, spans, strict=True):
        pushed = list(found or []) if cfg is None else filter_spans(found or [], cfg)
        per[row["label"]].append(len(pushed))
        gold = gold_spans(row)
        for s in pushed:
            t = (s["label"], int(s["start"]), int(s["end"]))
            total += 1
            loc += any(overlaps(t, g) for g in gold)
            exact += any(overlaps(t, g) and g[0] == t[0] for g in gold)
    return {"per_prompt_benign": round(sum(per["benign"]) / max(1, len(per["benign"])), 2),
            "per_prompt_harmful": round(sum(per["harmful"]) / max(1, len(per["harmful"])), 2),
            "no_cue_prompts_with_spans": sum(1 for r, f in zip(rows, spans, strict=True) if not r["cues"] and
                                             (list(f or []) if cfg is None else filter_spans(f or [], cfg))),
            "pushed": total, "precision_location": round(loc / total, 3) if total else None,
            "precision_label": round(exact / total, 3) if total else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    args = parser.parse_args()
    rows = [json.loads(line) for line in (DATA / f"suggest_spans_{args.split}.jsonl").read_text().splitlines()]
    spans = tag(rows)
    print(json.dumps({"split": args.split, "prompts": len(rows), "cue_labels": list(CUE_LABELS),
                      "before (every span)": measure(rows, spans, None),
                      "default": {"min_span_score": SuggestConfig().min_span_score,
                                  **measure(rows, spans, SuggestConfig())},
                      "by_threshold": {t: measure(rows, spans, SuggestConfig(min_span_score=t)) for t in THRESHOLDS},
                      "by_threshold, no top cue": {t: measure(rows, spans, SuggestConfig(min_span_score=t,
                                                                                         top_cue=False))
                                                   for t in THRESHOLDS}},
                     indent=1))


if __name__ == "__main__":
    main()
