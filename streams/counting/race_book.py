"""What the worker knows about each race: its definition, its latest expected vote and baseline.

Both come from compacted input topics, which are therefore their own durable store: a
worker reads them from the beginning at every start (no changelog needed) and follows them
live. Records below the group's committed offset were already acted on by an earlier run,
so they only rebuild state; newer malformed ones are also dead-lettered (`fresh`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.contract import ExpectedVote, RaceDefinition
from streams.model.baselines import Baseline


@dataclass
class RaceBook:
    definitions: dict[str, RaceDefinition] = field(default_factory=dict)
    expected: dict[str, ExpectedVote] = field(default_factory=dict)
    baselines: dict[str, Baseline] = field(default_factory=dict)  # the model's (streams.counting.projection)

    def put_definition(self, definition: RaceDefinition) -> bool:
        """Store a definition; True when it changed what is known (the latest record wins)."""
        old = self.definitions.get(definition.key)
        if old == definition:
            return False
        self.definitions[definition.key] = definition
        return True

    def put_expected(self, estimate: ExpectedVote) -> tuple[bool, ExpectedVote | None]:
        """Store an estimate if its seq is higher than the held one's (a higher seq replaces
        the whole estimate). Returns whether it was taken, and the estimate held before."""
        old = self.expected.get(estimate.key)
        if old is not None and estimate.seq <= old.seq:
            return False, old
        self.expected[estimate.key] = estimate
        return True, old

    def put_baseline(self, baseline: Baseline) -> bool:
        """Store a baseline if its seq is higher than the held one's (it replaces the whole
        baseline, as an estimate does); True when taken."""
        old = self.baselines.get(baseline.key)
        if old is not None and baseline.seq <= old.seq:
            return False
        self.baselines[baseline.key] = baseline
        return True
