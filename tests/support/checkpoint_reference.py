"""The checkpoint encoder as it was before it kept each tally's encoded entry (main at db08464):
every unit of every tally encoded at every write. Kept as the reference: the encoder that reuses
entries must write these bytes exactly (tests/unit/test_checkpoint_encoding.py), and
bench/bench_checkpoint.py times the two side by side.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable

import orjson

from streams.counting.tally import RaceTally, unit_row
from streams.kafka.topic_ids import LogIdentity
from streams.worker.checkpoint import FORMAT


def encode_every_unit(identity: LogIdentity, offsets: dict[str, int], tallies: Iterable[RaceTally]) -> bytes:
    gc.disable()
    try:
        doc = {"format": FORMAT,
               "identity": {"cluster_id": identity.cluster_id, "app_id": identity.app_id,
                            "topics": [list(topic) for topic in identity.topics]},
               "offsets": offsets,
               "tallies": [[list(t.key), [unit_row(p, u) for p, u in t.units()], t.kafka_ms] for t in tallies]}
        return orjson.dumps(doc)
    finally:
        gc.enable()
