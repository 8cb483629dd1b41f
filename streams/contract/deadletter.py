"""Dead letters: the headers saying where a refused record came from and why.

A dead letter is the original record's bytes, sent unchanged to `dead-letters` under the
original key, with three headers (docs/CONTRACT.md): `votewire-error` (the class, `InvalidRecord.kind`),
`votewire-reason` (one human sentence) and `votewire-source` (`topic[partition]@offset`). For
one invalid element of a valid batch or poll, the value is that element as compact JSON and a
fourth header, `votewire-index`, says where it was: `j` in a batch's `reports` (from 0); in a
`state-poll/1`, `i` for a refused race entry and `i.j` for element j of race entry i.
"""

from __future__ import annotations

from streams.errors import InvalidRecord

ERROR_HEADER = "votewire-error"
REASON_HEADER = "votewire-reason"
SOURCE_HEADER = "votewire-source"
INDEX_HEADER = "votewire-index"


def dead_letter_headers(error: InvalidRecord, topic: str, partition: int, offset: int) -> list[tuple[str, bytes]]:
    """The headers of the dead letter for the record at `topic[partition]@offset`."""
    return [
        (ERROR_HEADER, _header_bytes(error.kind)),
        (REASON_HEADER, _header_bytes(error.reason)),
        (SOURCE_HEADER, _header_bytes(source_of(topic, partition, offset))),
    ]


def element_dead_letter_headers(error: InvalidRecord, topic: str, partition: int, offset: int,
                                index: str) -> list[tuple[str, bytes]]:
    """The headers of the dead letter for element `index` (`j`, `i` or `i.j`) of the batch or poll
    at `topic[partition]@offset`."""
    return [*dead_letter_headers(error, topic, partition, offset), (INDEX_HEADER, index.encode())]


def source_of(topic: str, partition: int, offset: int) -> str:
    """Where a record came from, as headers and log lines name it: `precinct-results[2]@1841`."""
    return f"{topic}[{partition}]@{offset}"


def _header_bytes(text: str) -> bytes:
    # A reason quotes the input; never let an odd character turn a dead letter into a crash.
    return text.encode("utf-8", "backslashreplace")
