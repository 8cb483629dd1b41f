"""Malformed precinct reports and batches, of every kind the contract refuses.

Each takes a good report (or a batch of one report) and breaks one rule, so a dead-letter
count can be checked kind by kind. A broken record is written as a recording `payload`
string (some are not JSON at all); a broken element of a batch is JSON text set among good
ones, so the rest of its batch is still applied.
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


def _batch_with_literal(batch: dict[str, Any], literal: str) -> str:
    element = batch["reports"][0]
    return _with(batch, reports=[{**element, "votes": _with_vote(element, 7)}]).replace(
        f'"{_first_candidate(element)}":7', f'"{_first_candidate(element)}":{literal}', 1)


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


# --- In batches (`precinct-batch/1`) ---------------------------------------------------------
# A broken element is a dead letter alone and the rest of its batch is applied; a broken batch
# is one dead letter as a whole. Element kinds take the element (the unit fields) and the
# batch's envelope and return the element's JSON text, which must keep the batch valid JSON:
# so NaN, Infinity and cut-off text are batch kinds, never element kinds.

ElementKind = Callable[[dict[str, Any], dict[str, Any]], str]  # (element, batch) -> element text
_OTHER_MODE = {"live": "test", "test": "live"}


def _as_element(kind: str) -> ElementKind:
    """A report kind that leaves valid JSON, applied to an element."""
    break_report = KINDS[kind]
    return lambda element, _batch: break_report(element)


ELEMENT_KINDS: dict[str, ElementKind] = {
    **{kind: _as_element(kind) for kind in ("not_object", "negative_count", "float_count", "huge_count",
                                            "missing_votes", "missing_precinct_id", "empty_precinct_id",
                                            "unknown_mode", "unknown_schema", "seq_as_text", "votes_not_object")},
    # An element may repeat its batch's fields, but only with the batch's values.
    "other_state": lambda e, b: _with(e, state=b["state"].lower()),
    "other_race": lambda e, b: _with(e, race_id=f"{b['race_id']}-special"),
    "other_election": lambda e, b: _with(e, election_id="2020-11-03"),
    "other_mode": lambda e, b: _with(e, mode=_OTHER_MODE[b["mode"]]),
    "bad_reported_at": lambda e, _: _with(e, reported_at=e["reported_at"].replace("T", " at ")),
}

BATCH_KINDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "batch_not_json": lambda b: _dumps(b)[: len(_dumps(b)) // 2],
    "batch_not_object": lambda b: _dumps([b]),
    "batch_nan_count": lambda b: _batch_with_literal(b, "NaN"),  # one bad number: the whole record is not JSON
    "batch_unknown_schema": lambda b: _with(b, schema="precinct-batch/9"),
    "batch_empty_state": lambda b: _with(b, state=""),
    "batch_race_id_not_text": lambda b: _with(b, race_id=7),
    "batch_missing_election_id": lambda b: _without(b, "election_id"),
    "batch_unknown_mode": lambda b: _with(b, mode="rehearsal"),
    "batch_reports_empty": lambda b: _with(b, reports=[]),
    "batch_reports_missing": lambda b: _without(b, "reports"),
    "batch_reports_not_list": lambda b: _with(b, reports=b["reports"][0]),
}

# Every kind the simulator writes, in the truth file (the same whether batched or not).
ALL_KIND_NAMES = {"single": list(KIND_NAMES), "batch_element": list(ELEMENT_KINDS), "batch": list(BATCH_KINDS)}
