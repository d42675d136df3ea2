"""Inventory growth with the local chat model (curation/deharm/grow.py) on a few English entries: proposals asked,
kept and dropped per filter, the kept ones written as an inventory-format proposal file for review."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    """Fit the workspace-style harm model as bench_deharm does, grow, write counts and proposals."""
    from bench_deharm import fit_probe

    from curation.deharm.grow import grow, write_proposals

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", default="kill,hack,steal,attack,exploit,crack,poison,cheat")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "deharm_grow.json")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        probe = fit_probe(Path(tmp) / "probe")
        inv, report = grow("en", args.model, probe, args.entries.split(","))
    proposals = write_proposals(inv, args.out.with_suffix(".proposed.yaml"))
    result = {"entries": args.entries.split(","), "asked": report.asked, "kept": report.kept,
              "dropped": report.dropped, "examples": report.examples,
              "proposals": str(proposals.name), "seconds": round(time.time() - t0)}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
