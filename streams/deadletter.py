"""Dead letters: the one place that decides dead letter versus retry, and the headers saying why.

A dead letter is the original record's bytes, sent unchanged to `dead-letters` under the
original key, with three headers (docs/CONTRACT.md): `votewire-error` (the class, `InvalidRecord.kind`),
`votewire-reason` (one human sentence) and `votewire-source` (`topic[partition]@offset`). For
one invalid element of a valid batch, the value is that element as compact JSON and a fourth
header, `votewire-index`, gives its position in `reports` (from 0).
"""

from __future__ import annotations

from typing import Literal

from aiokafka.errors import KafkaError

from streams.errors import InvalidRecord, VotewireError

ERROR_HEADER = "votewire-error"
REASON_HEADER = "votewire-reason"
SOURCE_HEADER = "votewire-source"
INDEX_HEADER = "votewire-index"

Verdict = Literal["dead_letter", "retry", "raise"]


def dead_letter_headers(error: InvalidRecord, topic: str, partition: int, offset: int) -> list[tuple[str, bytes]]:
    """The headers of the dead letter for the record at `topic[partition]@offset`."""
    return [
        (ERROR_HEADER, _header_bytes(error.kind)),
        (REASON_HEADER, _header_bytes(error.reason)),
        (SOURCE_HEADER, _header_bytes(source_of(topic, partition, offset))),
    ]


def element_dead_letter_headers(error: InvalidRecord, topic: str, partition: int, offset: int,
                                index: int) -> list[tuple[str, bytes]]:
    """The headers of the dead letter for element `index` of the batch at `topic[partition]@offset`."""
    return [*dead_letter_headers(error, topic, partition, offset), (INDEX_HEADER, str(index).encode())]


def source_of(topic: str, partition: int, offset: int) -> str:
    """Where a record came from, as headers and log lines name it: `precinct-results[2]@1841`."""
    return f"{topic}[{partition}]@{offset}"


def classify(exc: BaseException) -> Verdict:
    """What to do about an exception raised while handling one record.

    `dead_letter`: the record breaks the contract and never will be good; send it aside and go
    on. `retry`: trying again may succeed (a broker still starting, a leader moving). `raise`:
    anything else is a bug or a shutdown (CancelledError included) and must not be swallowed.
    """
    if isinstance(exc, InvalidRecord):
        return "dead_letter"
    if isinstance(exc, VotewireError | KafkaError) and exc.retriable:
        return "retry"
    return "raise"


def _header_bytes(text: str) -> bytes:
    # A reason quotes the input; never let an odd character turn a dead letter into a crash.
    return text.encode("utf-8", "backslashreplace")
