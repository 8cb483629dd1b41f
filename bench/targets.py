"""The targets a `make bench` run is held to, each against its yardstick measured in the same run.

Issue 8 (race batches, the national night):
- the national night replayed with a worker running, to exact final snapshots, <= 60 s, and the
  worker's peak RSS <= 1 GB (10^9 bytes);
- worker catch-up on the `us` topic ahead of the Quix Streams peer on the same topic;
- worker catch-up on the single-report topic >= 75% of faust's own no-op floor.
Issue 19 (a full ballot as state polls):
- `full-small` (seed 11) to exact final snapshots <= 4 s, ahead of the Quix Streams peer;
- `us` <= 30 s, within 1.2x of the Quix peer (its speed >= 1/1.2 of the peer's);
- `full` (~10M reports, `--full`) <= 3 minutes, peak RSS <= 2 GB;
- worker catch-up >= 50% of the same tally with no durability, on both nights;
- still (issue 8 too): p99 report -> snapshot <= the publish interval + 250 ms at 5,000
  reports/s offered (and drained), and restart to current snapshots <= 15 s; both now also
  on a full ballot (the `full-small` polls' worker: `ballot-latency`, `ballot-restart`).
Issue 20: the catch-up on `us` with its baselines topic filled (the model runs) at >= 95% of
the speed without.

"End to end" is the worker's catch-up on the pre-filled topic, launch to exact final snapshots,
as the Quix peer's figure runs from its process launch. Speeds are compared in records/s on the
same topic (the same as comparing seconds). A target whose figure was not measured (a part
skipped, not asked for, or failed) is "not measured", not met.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Figures = Mapping[str, Mapping[str, Any]]
RATE = "records_per_s"


@dataclass
class Target:
    issue: str
    name: str
    value: float | None
    unit: str
    limit: str  # the target, as a reader says it
    met: bool | None  # None: not measured
    yardstick: str = ""
    ratio: float | None = None


def figure(figures: Figures, name: str, key: str) -> float | None:
    value = figures.get(name, {}).get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def speed_ratio(figures: Figures, name: str, yardstick: str) -> float | None:
    """`name`'s records/s over `yardstick`'s, on the same topic."""
    mine, theirs = figure(figures, name, RATE), figure(figures, yardstick, RATE)
    return round(mine / theirs, 3) if mine is not None and theirs else None


def at_most(issue: str, name: str, figures: Figures, source: str, key: str, unit: str, limit: float) -> Target:
    value = figure(figures, source, key)
    return Target(issue, name, value, unit, f"<= {limit:g} {unit}", None if value is None else value <= limit)


def speed_vs(issue: str, name: str, figures: Figures, source: str, yardstick: str, limit: str,
             ok: Callable[[float], bool]) -> Target:
    ratio = speed_ratio(figures, source, yardstick)
    return Target(issue, name, figure(figures, source, RATE), "records/s", limit,
                  None if ratio is None else ok(ratio), yardstick, ratio)


def latency_target(issue: str, name: str, figures: Figures, source: str, publish_interval_s: float) -> Target:
    """p99 of `source` (a latency phase) <= the publish interval + 250 ms, and the phase drained."""
    p99, limit = figure(figures, source, "p99_ms"), publish_interval_s * 1000 + 250
    drained = bool(figures.get(source, {}).get("drained"))
    return Target(issue, name, p99, "ms", f"<= {limit:.0f} ms", None if p99 is None else p99 <= limit and drained)


def targets(figures: Figures, publish_interval_s: float, presets: Mapping[str, str] | None = None) -> list[Target]:
    """Every target; `presets` names the preset each night's role was run with, when it is not
    the default one (a quick run on `full-tiny` must not read as `full-small`)."""
    names = {"us": "us", "ballot-polls": "full-small", "full": "full", **(presets or {})}
    return [*issue_8(figures, names), *issue_19(figures, names), *still_met(figures, names, publish_interval_s),
            *issue_20(figures, names)]


def still_met(f: Figures, names: Mapping[str, str], publish_interval_s: float) -> list[Target]:
    """Issue 8's live targets, which issue 19 holds on a full ballot too."""
    ballot = names["ballot-polls"]
    return [
        latency_target("8, 19", "p99 report -> snapshot at 5,000 reports/s offered, drained", f, "latency_5000",
                       publish_interval_s),
        latency_target("19", f"p99 report -> snapshot at 5,000 reports/s offered as state polls, {ballot} "
                             "worker, drained", f, "ballot-polls.latency_5000", publish_interval_s),
        at_most("8, 19", "restart to current snapshots", f, "restart", "seconds", "s", 15),
        at_most("19", f"restart to current snapshots, {ballot} state", f, "ballot-polls.restart", "seconds", "s", 15),
    ]


def issue_8(f: Figures, names: Mapping[str, str]) -> list[Target]:
    us = names["us"]
    return [
        at_most("8", f"{us} night replayed with the worker running, to exact final snapshots", f,
                "national_night", "seconds", "s", 60),
        at_most("8", f"worker peak RSS, {us} night", f, "national_night", "peak_rss_mb", "MB", 1000),
        speed_vs("8", f"{us} catch-up vs the Quix Streams peer", f, "us.votewire_catchup", "us.quix_peer",
                 "> 1.00x", lambda r: r > 1.0),
        speed_vs("8", "catch-up, single-report topic, vs faust's no-op floor", f, "single.votewire_catchup",
                 "single.faust_floor", ">= 0.75x", lambda r: r >= 0.75),
    ]


def issue_19(f: Figures, names: Mapping[str, str]) -> list[Target]:
    ballot, us, full = names["ballot-polls"], names["us"], names["full"]
    return [
        at_most("19", f"{ballot} as state polls: worker launch to exact final snapshots", f,
                "ballot-polls.votewire_catchup", "seconds", "s", 4),
        speed_vs("19", f"{ballot} as state polls: catch-up vs the Quix Streams peer", f,
                 "ballot-polls.votewire_catchup", "ballot-polls.quix_peer", "> 1.00x", lambda r: r > 1.0),
        speed_vs("19", f"{ballot} as state polls: catch-up vs the same tally with no durability", f,
                 "ballot-polls.votewire_catchup", "ballot-polls.tally_no_durability", ">= 0.50x", lambda r: r >= 0.5),
        at_most("19", f"{us} as state polls: worker launch to exact final snapshots", f,
                "us.votewire_catchup", "seconds", "s", 30),
        speed_vs("19", f"{us} catch-up within 1.2x of the Quix Streams peer", f, "us.votewire_catchup",
                 "us.quix_peer", ">= 0.83x (1/1.2)", lambda r: r * 1.2 >= 1.0),
        speed_vs("8, 19", f"{us} catch-up vs the same tally with no durability", f, "us.votewire_catchup",
                 "us.tally_no_durability", ">= 0.50x", lambda r: r >= 0.5),
        at_most("19", f"{full} (--full): worker launch to exact final snapshots", f,
                "full.votewire_catchup", "seconds", "s", 180),
        at_most("19", f"{full} (--full): worker peak RSS", f, "full.votewire_catchup", "peak_rss_mb", "MB", 2000),
    ]


def issue_20(f: Figures, names: Mapping[str, str]) -> list[Target]:
    return [speed_vs("20", f"{names['us']} catch-up with the baselines topic filled (the model) vs without", f,
                     "us-model.votewire_catchup", "us.votewire_catchup", ">= 0.95x", lambda r: r >= 0.95)]
