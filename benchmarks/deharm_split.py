"""Write the frozen dev/test split of harmful prompts for the de-harm benchmark (written before any tuning)."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "refusal-direction"
OUT = Path(__file__).resolve().parent / "data" / "deharm"
SEED = 2323
N_DEV = 80


def _load(shared: Path) -> list[dict[str, str]]:
    """Read harmful_train, harmful_val and jailbreakbench as (source, index, text) rows."""
    rows: list[dict[str, str]] = []
    for name in ("harmful_train.json", "harmful_val.json"):
        for i, r in enumerate(json.loads((shared / name).read_text())):
            rows.append({"source": name, "index": str(i), "text": r["instruction"]})
    with (shared / "jailbreakbench.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            rows.append({"source": "jailbreakbench.csv", "index": r[""], "text": r["Goal"],
                         "category": r["Category"]})
    return rows


def main(shared: Path = SHARED) -> None:
    """Shuffle with a fixed seed; the first N_DEV rows are dev, the rest the frozen test split."""
    if not shared.exists():
        sys.exit(f"{shared} is absent; the split needs the shared refusal-direction data")
    rows = _load(shared)
    random.Random(SEED).shuffle(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, part in (("dev", rows[:N_DEV]), ("test", rows[N_DEV:])):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part)
        (OUT / f"{name}.jsonl").write_text(text)
        print(name, len(part), hashlib.sha256(text.encode()).hexdigest())


if __name__ == "__main__":
    main()
