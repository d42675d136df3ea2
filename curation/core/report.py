"""The one report type of the stages: a dataclass each stage's report extends, with `as_dict` for logs and JSON.

A stage is `run(dataset, config, ..., report=None) -> Dataset`; a caller that wants the figures passes a fresh
report and reads it afterwards. Datasets a stage makes besides its output (ingest's dropped duplicates) travel in
`report.datasets` under a name, never as extra tuple members, and are left out of `as_dict`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Self


@dataclass
class StageReport:
    """Base of every stage report: named side datasets plus the stage's own fields (declared by the subclass)."""

    datasets: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, kw_only=True)

    def as_dict(self) -> dict[str, Any]:
        """The stage's figures (every field but `datasets`), in declaration order; values are not copied."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "datasets"}

    def update(self, other: Self) -> Self:
        """Take every field of `other` (a report the stage built) into this one, the caller's; returns self."""
        for f in fields(other):
            setattr(self, f.name, getattr(other, f.name))
        return self
