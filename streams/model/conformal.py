"""One quantity fitted on the units that have fully reported, with conformal prediction bounds.

A `Fit` is the weighted mean of a per-unit quantity (a turnout ratio, a change of share) over
the reported units, and the leave-one-out residuals of that mean: each unit's value against
the mean of all the others. Their absolute values are the conformity scores of a jackknife
conformal predictor. The score quantile is taken with the finite-sample correction
(level x (1 + 1/n), so n scores support a level only when n >= level / (1 - level): 19 units
for 95%) and weighted by unit size, as the Washington Post's elex-live-model weights its
scores by the previous election's votes ("we care about larger units more than smaller ones").

Leave-one-out instead of elex's split (half the units fit, half calibrate): on a county map a
state has a few dozen units, and splitting would halve the evidence and double the wait for a
first interval. For a weighted mean the leave-one-out values cost nothing: (S - w y) / (W - w).
A mean, not elex's median: its leave-one-out values are exact and cheap, and `spread` needs
the error of the fitted value to shrink like a mean's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def needed_units(level: float) -> int:
    """The fewest scores from which the corrected quantile at `level` (0-1) exists."""
    return math.ceil(level / (1 - level) - 1e-9)


def weighted_quantile(values: Sequence[float], weights: Sequence[float], q: float) -> float:
    """The smallest value whose cumulative weight reaches `q` of the total (0 < q <= 1)."""
    pairs = sorted(zip(values, weights, strict=True))
    total = sum(weights)
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= q * total - 1e-12 * total:
            return value
    return pairs[-1][0]


@dataclass(frozen=True, slots=True)
class Fit:
    """The weighted mean of `values` and its conformity scores (|leave-one-out residuals|)."""

    value: float
    scores: tuple[float, ...]
    weights: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float], weights: Sequence[float]) -> Fit:
        total_w = sum(weights)
        total = sum(w * y for y, w in zip(values, weights, strict=True))
        scores = tuple(abs(y - (total - w * y) / (total_w - w)) if total_w > w else 0.0
                       for y, w in zip(values, weights, strict=True))
        return cls(total / total_w if total_w else 0.0, scores, tuple(weights))

    def half_width(self, level: float) -> float | None:
        """The conformal bound on one new unit's |error| at `level`, or None with too few units."""
        corrected = level * (1 + 1 / len(self.scores)) if self.scores else math.inf
        if corrected > 1 or sum(self.weights) <= 0:
            return None
        return weighted_quantile(self.scores, self.weights, corrected)

    def spread(self, outstanding: Sequence[float]) -> float:
        """How many units' worth of error a sum over `outstanding` units (their weights) carries.

        Two errors add up in it: each outstanding unit's own departure from the fitted value,
        independent of the others' (so sqrt of the sum of squares, not the plain sum elex uses,
        which assumes every unit errs the same way at once and gives intervals far too wide to
        be calibrated), and the error of the fitted value itself, shared by every outstanding
        unit (the mean's standard error relative to one unit's: sqrt(sum w^2) / sum w).
        """
        total_w = sum(self.weights)
        shared = math.sqrt(sum(w * w for w in self.weights)) / total_w if total_w else 0.0
        own = sum(u * u for u in outstanding)
        return math.sqrt(own + (sum(outstanding) * shared) ** 2)
