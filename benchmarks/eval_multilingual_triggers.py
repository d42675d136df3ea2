"""Do trigger spans agree across languages? On the hand-written parallel set (`tests/data/parallel_requests_*.jsonl`),
tag every language with the triggers stage (read-only: `TriggerTagger` with its default proposers and the workspace
probe) and check, per language, whether the top cue is the translation of the English top cue:

- aligned: the English top cue projected onto the translation with the project's word alignment
  (`curation.models.align.project_spans`, itermax over USE multilingual word vectors) overlaps the language's top cue;
- gold: the language's top cue overlaps the trigger word marked by hand in that language (rows where the English
  top cue is the marked English trigger and the translation has a marked trigger).

Run: .venv/bin/python benchmarks/eval_multilingual_triggers.py --workspace WS [--json OUT]
(WS: a workspace with a fitted probe, e.g. the one `eval_multilingual_boundary.py --workspace WS` leaves.)
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_multilingual_boundary import LANGS, load_parallel  # noqa: E402


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def marked_span(text: str, word: str | None) -> tuple[int, int] | None:
    """Character span of the hand-marked trigger word (first case-insensitive occurrence)."""
    if not word:
        return None
    at = text.lower().find(word.lower())
    return (at, at + len(word)) if at >= 0 else None


def top_cues(workspace: Path, rows: list[dict]) -> dict[str, list[dict | None]]:
    """The best trigger span of every row in every language (None when the stage finds none)."""
    from curation.triggers.stage import TriggersConfig, TriggerTagger

    out = {}
    labels = ["harmful" if r["label"] else "benign" for r in rows]
    with warnings.catch_warnings(), TriggerTagger(TriggersConfig(), workspace) as tagger:
        warnings.simplefilter("ignore")
        for lang in LANGS:
            spans, _ = tagger.tag([r[lang] for r in rows], [lang] * len(rows), labels)
            out[lang] = [s[0] if s else None for s in spans]
    return out


def evaluate(workspace: Path) -> dict[str, dict]:
    from curation.models.align import project_spans
    from curation.models.embeddings import encoder_from_spec, workspace_cache
    from curation.translate.stage import word_vectors_fn

    rows = [r for r in load_parallel("all") if r["kind"] != "benign"]  # rows with a harm word to find
    cues = top_cues(workspace, rows)
    encoder = encoder_from_spec("use-multilingual-v3")
    cache = workspace_cache(workspace, encoder.model_id)
    vectors = word_vectors_fn(encoder, cache)
    en_right = sum(1 for r, c in zip(rows, cues["en"], strict=True)
                   if c and marked_span(r["en"], r["trigger"]["en"]) and
                   overlaps((c["start"], c["end"]), marked_span(r["en"], r["trigger"]["en"])))
    result: dict[str, dict] = {"en": {"rows": len(rows), "top_cue_is_marked_trigger": en_right / len(rows)}}
    for lang in LANGS[1:]:
        n = aligned = dropped = gold_n = gold = 0
        for r, en_cue, cue in zip(rows, cues["en"], cues[lang], strict=True):
            if en_cue is None:
                continue
            n += 1
            projected, lost = project_spans([en_cue], r["en"], r[lang], vectors)
            dropped += lost
            if cue and projected and overlaps((cue["start"], cue["end"]), (projected[0]["start"],
                                                                           projected[0]["end"])):
                aligned += 1
            en_mark, mark = marked_span(r["en"], r["trigger"]["en"]), marked_span(r[lang], r["trigger"][lang])
            if en_mark and mark and overlaps((en_cue["start"], en_cue["end"]), en_mark):
                gold_n += 1
                gold += bool(cue and overlaps((cue["start"], cue["end"]), mark))
        result[lang] = {"rows_with_english_cue": n, "aligned_agreement": aligned / max(n, 1),
                        "projection_dropped": dropped, "gold_rows": gold_n, "gold_agreement": gold / max(gold_n, 1)}
    cache.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", required=True, help="Workspace with the fitted probe(s).")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    result = evaluate(Path(args.workspace))
    print(f"en: top cue is the hand-marked trigger in {result['en']['top_cue_is_marked_trigger']:.3f} of "
          f"{result['en']['rows']} rows (benign-with-trigger + harmful)")
    print("| language | rows with an English cue | top cue = aligned English cue | projection dropped | "
          "gold rows | top cue = marked translation |")
    print("|---|---|---|---|---|---|")
    for lang, m in list(result.items())[1:]:
        print(f"| {lang} | {m['rows_with_english_cue']} | {m['aligned_agreement']:.3f} | {m['projection_dropped']} | "
              f"{m['gold_rows']} | {m['gold_agreement']:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
