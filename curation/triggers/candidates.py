"""The working state of one prompt while proposers vote: its doc, flags and candidate spans with evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Syntactic roles a candidate can have, from most to least likely to be the request's trigger.
ROLE_PRIOR = {"cue": 1.0, "identity": 1.0, "personal_info": 1.0, "phrasal": 1.0, "verb": 1.0, "target": 0.8,
              "idiom": 0.6, "entity": 0.5, "chunk": 0.5, "word": 0.4}


@dataclass
class Candidate:
    """A character span of the (processed) prompt and each agent's evidence for it, in [0, 1]."""

    start: int
    end: int
    text: str
    role: str = "word"
    n_tokens: int = 1
    category: str | None = None
    evidence: dict[str, float] = field(default_factory=dict)
    attribution: dict[str, float] = field(default_factory=dict)  # raw score drop per occlusion agent
    trigger_p: float | None = None  # learned P(this span is the trigger) (rank.SpanModel)
    harm_p: float | None = None  # P(harmful_cue) from the span's context (rank.SpanModel label model)

    @property
    def prior(self) -> float:
        """How promising the span is before attribution (orders candidates when their number is capped), so every
        occlusion agent occludes the same spans."""
        before = (e for agent, e in self.evidence.items() if agent not in self.attribution)
        return max(before, default=0.0) + ROLE_PRIOR.get(self.role, 0.3) * 0.1

    def vote(self, agent: str, evidence: float) -> None:
        self.evidence[agent] = max(self.evidence.get(agent, 0.0), float(evidence))


@dataclass
class Row:
    """One prompt being tagged."""

    text: str
    language: str
    label: str = "unknown"
    doc: Any = None
    pipeline: Any = None
    flags: list[str] = field(default_factory=list)
    candidates: dict[tuple[int, int], Candidate] = field(default_factory=dict)
    p_harmful: float | None = None
    margin: float | None = None  # the probe's margin of the whole prompt (when a probe scored it)
    probe: str | None = None  # the probe that scored the row (language routing)

    def candidate(self, start: int, end: int, role: str = "word", n_tokens: int = 1) -> Candidate:
        """Get or create the candidate at [start, end); a stronger role replaces a weaker one."""
        found = self.candidates.get((start, end))
        if found is None:
            found = self.candidates[(start, end)] = Candidate(start, end, self.text[start:end], role, n_tokens)
        elif ROLE_PRIOR.get(role, 0) > ROLE_PRIOR.get(found.role, 0):
            found.role = role
        return found

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)
