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


def evaluate(workspace: Path) -> dict[str, dict[str, dict]]:
    """Per split (dev, test, all) and language: agreement of the top cue with the aligned English top cue and with
    the hand-marked translation (the tagger runs once over every row)."""
    from curation.models.align import project_spans
    from curation.models.embeddings import encoder_from_spec, workspace_cache
    from curation.translate.stage import word_vectors_fn

    rows = [r for r in load_parallel("all") if r["kind"] != "benign"]  # rows with a harm word to find
    dev = {r["id"] for r in load_parallel("dev")}
    cues = top_cues(workspace, rows)
    encoder = encoder_from_spec("use-multilingual-v3")
    cache = workspace_cache(workspace, encoder.model_id)
    vectors = word_vectors_fn(encoder, cache)
    outcome: dict[str, list[dict]] = {lang: [] for lang in LANGS}
    for r, c in zip(rows, cues["en"], strict=True):
        mark = marked_span(r["en"], r["trigger"]["en"])
        outcome["en"].append({"id": r["id"], "right": bool(c and mark and overlaps((c["start"], c["end"]), mark))})
    for lang in LANGS[1:]:
        for r, en_cue, cue in zip(rows, cues["en"], cues[lang], strict=True):
            if en_cue is None:
                continue
            projected, lost = project_spans([en_cue], r["en"], r[lang], vectors)
            row = {"id": r["id"], "dropped": lost, "aligned": bool(
                cue and projected and overlaps((cue["start"], cue["end"]), (projected[0]["start"],
                                                                            projected[0]["end"])))}
            en_mark, mark = marked_span(r["en"], r["trigger"]["en"]), marked_span(r[lang], r["trigger"][lang])
            if en_mark and mark and overlaps((en_cue["start"], en_cue["end"]), en_mark):
                row["gold"] = bool(cue and overlaps((cue["start"], cue["end"]), mark))
            outcome[lang].append(row)
    cache.close()
    result: dict[str, dict[str, dict]] = {}
    for split, keep in (("dev", lambda i: i in dev), ("test", lambda i: i not in dev), ("all", lambda i: True)):
        part = {lang: [o for o in outs if keep(o["id"])] for lang, outs in outcome.items()}
        res: dict[str, dict] = {"en": {"rows": len(part["en"]), "top_cue_is_marked_trigger":
                                       sum(o["right"] for o in part["en"]) / max(len(part["en"]), 1)}}
        for lang in LANGS[1:]:
            outs, gold = part[lang], [o["gold"] for o in part[lang] if "gold" in o]
            res[lang] = {"rows_with_english_cue": len(outs),
                         "aligned_agreement": sum(o["aligned"] for o in outs) / max(len(outs), 1),
                         "projection_dropped": sum(o["dropped"] for o in outs), "gold_rows": len(gold),
                         "gold_agreement": sum(gold) / max(len(gold), 1)}
        result[split] = res
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", required=True, help="Workspace with the fitted probe(s).")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    result = evaluate(Path(args.workspace))
    for split, res in result.items():
        right = res["en"]["top_cue_is_marked_trigger"]
        print(f"\nsplit: {split}\nen: top cue is the hand-marked trigger in {right:.3f} of {res['en']['rows']} rows "
              "(benign-with-trigger + harmful)")
        print("| language | rows with an English cue | top cue = aligned English cue | projection dropped | "
              "gold rows | top cue = marked translation |")
        print("|---|---|---|---|---|---|")
        for lang, m in list(res.items())[1:]:
            print(f"| {lang} | {m['rows_with_english_cue']} | {m['aligned_agreement']:.3f} | "
                  f"{m['projection_dropped']} | {m['gold_rows']} | {m['gold_agreement']:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
