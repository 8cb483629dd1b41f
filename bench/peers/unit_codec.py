"""The compact unit encoding the Quix Streams peer stores per unit in its state (and bench_tally
times): one-letter JSON keys. votewire itself keeps no per-unit store any more (its checkpoints
write `streams.counting.tally.unit_row`s), so the peer keeps this codec of its own."""

from __future__ import annotations

from typing import Any

import orjson

from streams.counting.tally import StoredUnit


def encode_unit(u: StoredUnit) -> bytes:
    """Compact JSON with one-letter keys: the table holds ~178,000 of these per state race."""
    doc: dict[str, Any] = {"c": u.county_fips, "s": u.seq, "t": u.reported_ms, "a": u.reported_at, "v": u.votes}
    doc["x"] = u.complete
    doc["r"] = u.reporting
    if u.registered_voters is not None:
        doc["g"] = u.registered_voters
    if u.precincts_total is not None:
        doc["p"] = u.precincts_total
    if u.former:
        doc["f"] = u.former
    return orjson.dumps(doc)
