"""Malformed precinct reports, of every kind the contract refuses, written as raw payloads.

Each takes a good report and breaks one rule, so a dead-letter count can be checked kind by
kind. Written as recording `payload` strings: some are not JSON at all.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _first_candidate(value: dict[str, Any]) -> str:
    return str(next(iter(value["votes"])))


def _with(value: dict[str, Any], **changes: Any) -> str:
    return _dumps({**value, **changes})


def _with_vote(value: dict[str, Any], count: Any) -> dict[str, Any]:
    return {**value["votes"], _first_candidate(value): count}


def _without(value: dict[str, Any], name: str) -> str:
    return _dumps({k: v for k, v in value.items() if k != name})


def _with_literal(value: dict[str, Any], literal: str) -> str:
    # orjson cannot write NaN/Infinity (they are not JSON); senders that use Python's json do.
    return _with(value, votes=_with_vote(value, 7)).replace(
        f'"{_first_candidate(value)}":7', f'"{_first_candidate(value)}":{literal}', 1)


KINDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "not_json": lambda v: _dumps(v)[: len(_dumps(v)) // 2],
    "not_object": lambda v: _dumps([v["precinct_id"], v["votes"]]),
    "negative_count": lambda v: _with(v, votes=_with_vote(v, -5)),
    "float_count": lambda v: _with(v, votes=_with_vote(v, 12.5)),
    "huge_count": lambda v: _with(v, votes=_with_vote(v, 2**53 + 1)),
    "nan_count": lambda v: _with_literal(v, "NaN"),
    "infinite_count": lambda v: _with_literal(v, "Infinity"),
    "missing_votes": lambda v: _without(v, "votes"),
    "missing_precinct_id": lambda v: _without(v, "precinct_id"),
    "empty_precinct_id": lambda v: _with(v, precinct_id=""),
    "unknown_mode": lambda v: _with(v, mode="rehearsal"),
    "unknown_schema": lambda v: _with(v, schema="precinct-result/9"),
    "seq_as_text": lambda v: _with(v, seq=str(v["seq"])),
    "votes_not_object": lambda v: _with(v, votes=list(v["votes"].values())),
}
KIND_NAMES = tuple(KINDS)


def malformed_payload(rng: random.Random, value: dict[str, Any]) -> str:
    return KINDS[KIND_NAMES[rng.randrange(len(KIND_NAMES))]](value)
