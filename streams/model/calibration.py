"""Projections scored against the truth: interval coverage and error, and the tables they make.

A `Score` is one race/state at one checkpoint (a share of its true final vote counted): did
each interval of the expected vote cover the true final total, did the 90% interval of each
of the two leading candidates' shares (by the true result) cover their final share, and how
far off the expected vote was. `table` turns many scores into the Markdown the README shows.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from streams.model.estimate import NoEstimate, Projection

SHARE_LEVEL = 90


@dataclass(frozen=True)
class Truth:
    total_votes: int
    votes: Mapping[str, int]  # candidate -> final votes

    def leaders(self, n: int = 2) -> list[str]:
        return sorted(self.votes, key=lambda c: -self.votes[c])[:n]

    def share(self, candidate: str) -> float:
        return 100 * self.votes.get(candidate, 0) / self.total_votes if self.total_votes else 0.0


@dataclass(frozen=True)
class Score:
    checkpoint: int
    estimated: bool
    expected_covered: dict[int, bool] = field(default_factory=dict)  # level -> covered
    shares_covered: tuple[bool, ...] = ()  # the leaders' 90% share intervals
    error_pct: float = 0.0  # |expected - truth| / truth, percent
    width_pct: float = 0.0  # the 90% interval's width, percent of the true total
    share_error_pts: float = 0.0  # the leader's |projected - final share|, points


def covers(low: float, high: float, value: float) -> bool:
    return low <= value <= high


def score(checkpoint: int, projection: Projection | NoEstimate, truth: Truth) -> Score:
    if isinstance(projection, NoEstimate):
        return Score(checkpoint, estimated=False)
    total = truth.total_votes
    low, high = projection.expected_ranges[SHARE_LEVEL]
    leader = truth.leaders(1)[0]
    return Score(
        checkpoint, True,
        {level: covers(lo, hi, total) for level, (lo, hi) in projection.expected_ranges.items()},
        tuple(covers(*projection.share_ranges[c][SHARE_LEVEL], truth.share(c)) for c in truth.leaders()),
        100 * abs(projection.expected_votes - total) / total, 100 * (high - low) / total,
        abs(projection.shares[leader] - truth.share(leader)))


def rate(flags: Sequence[bool]) -> str:
    return f"{100 * sum(flags) / len(flags):.0f}% ({sum(flags)}/{len(flags)})" if flags else "–"


def median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f}%" if values else "–"


def table(scores: Sequence[Score], levels: Sequence[int] = (80, 90, 95)) -> str:
    """One row per checkpoint: how often an estimate was made, coverage per level, errors."""
    head = ["counted", "estimates", *(f"expected vote in its {lv}%" for lv in levels),
            "leaders' shares in their 90%", "median abs error, expected vote", "median 90% width",
            "median abs error, leader's share (pts)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for checkpoint in sorted({s.checkpoint for s in scores}):
        at = [s for s in scores if s.checkpoint == checkpoint]
        made = [s for s in at if s.estimated]
        shares = [flag for s in made for flag in s.shares_covered]
        cells = [f"{checkpoint}%", rate([s.estimated for s in at]),
                 *(rate([s.expected_covered[lv] for s in made]) for lv in levels), rate(shares),
                 median([s.error_pct for s in made]), median([s.width_pct for s in made]),
                 median([s.share_error_pts for s in made]).removesuffix("%")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
