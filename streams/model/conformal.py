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
    correlation: float  # of two units' errors in the same county (0 when each unit is a county)
    county_weights: dict[str, float]  # the fitted units' weight per county

    @classmethod
    def of(cls, values: Sequence[float], weights: Sequence[float], clusters: Sequence[str]) -> Fit:
        """`clusters` names each unit's county: units of one county err partly together (`spread`)."""
        total_w = sum(weights)
        total = sum(w * y for y, w in zip(values, weights, strict=True))
        residuals = [y - (total - w * y) / (total_w - w) if total_w > w else 0.0
                     for y, w in zip(values, weights, strict=True)]
        return cls(total / total_w if total_w else 0.0, tuple(map(abs, residuals)), tuple(weights),
                   within_cluster_correlation(residuals, clusters), sums_by(weights, clusters))

    def half_width(self, level: float) -> float | None:
        """The conformal bound on one new unit's |error| at `level`, or None with too few units."""
        corrected = level * (1 + 1 / len(self.scores)) if self.scores else math.inf
        if corrected > 1 or sum(self.weights) <= 0:
            return None
        return weighted_quantile(self.scores, self.weights, corrected)

    def spread(self, outstanding: Sequence[float], clusters: Sequence[str]) -> float:
        """How many units' worth of error a sum over `outstanding` units (their weights) carries:
        its standard deviation over one unit's, under a random-effects reading of the residuals
        (a county effect shared by the county's units, correlation `correlation`, and a unit's
        own). The sum is (outstanding weight) x (fitted value) + its units' errors, and the fitted
        value carries the fitted units' errors, weighted; a county with units on both sides
        partly cancels out. With counties as units, this is the familiar sum of squares plus
        the mean's standard error. elex-live-model adds unit bounds up instead, as if every unit
        erred the same way at once: over dozens of counties, intervals far wider than the errors.
        """
        total_w = sum(self.weights)
        if total_w <= 0:
            return 0.0
        factor = sum(outstanding) / total_w  # each fitted unit's weight in the outstanding sum's error
        mine = sums_by(outstanding, clusters)
        shared = sum((mine.get(k, 0.0) - factor * self.county_weights.get(k, 0.0)) ** 2
                     for k in mine.keys() | self.county_weights.keys())
        own = sum(u * u for u in outstanding) + factor * factor * sum(w * w for w in self.weights)
        return math.sqrt(self.correlation * shared + (1 - self.correlation) * own)


def sums_by(weights: Sequence[float], clusters: Sequence[str]) -> dict[str, float]:
    sums: dict[str, float] = {}
    for w, cluster in zip(weights, clusters, strict=True):
        sums[cluster] = sums.get(cluster, 0.0) + w
    return sums


def within_cluster_correlation(residuals: Sequence[float], clusters: Sequence[str]) -> float:
    """The intra-class correlation of the residuals: the mean product over pairs of units in the
    same county, over the mean square; 0 without such pairs (a county map)."""
    sums: dict[str, tuple[float, float, int]] = {}
    for e, cluster in zip(residuals, clusters, strict=True):
        s, sq, n = sums.get(cluster, (0.0, 0.0, 0))
        sums[cluster] = (s + e, sq + e * e, n + 1)
    pairs = sum(n * (n - 1) for _, _, n in sums.values())
    mean_square = sum(e * e for e in residuals) / len(residuals) if residuals else 0.0
    if not pairs or mean_square <= 0:
        return 0.0
    return min(1.0, max(0.0, sum(s * s - sq for s, sq, _ in sums.values()) / pairs / mean_square))
