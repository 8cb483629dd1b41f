"""Malformed precinct reports, batches and polls, of every kind the contract refuses.

Each takes a good report (or a batch or poll of one report) and breaks one rule, so a
dead-letter count can be checked kind by kind. A broken record is written as a recording
`payload` string (some are not JSON at all); a broken element of a batch or poll, or a broken
race entry of a poll, is JSON text set among good ones, so the rest of its record is still applied.
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
    return _literal_in(value, lambda element: element, literal)


def _literal_in(element: dict[str, Any], record: Callable[[dict[str, Any]], dict[str, Any]], literal: str) -> str:
    """`record(element)` as JSON text with `literal` for the element's first candidate's count.
    orjson cannot write NaN/Infinity (they are not JSON); senders that use Python's json do."""
    marked = record({**element, "votes": _with_vote(element, 7)})
    return _dumps(marked).replace(f'"{_first_candidate(element)}":7', f'"{_first_candidate(element)}":{literal}', 1)


def _batch_with_literal(batch: dict[str, Any], literal: str) -> str:
    return _literal_in(batch["reports"][0], lambda element: {**batch, "reports": [element]}, literal)


def _poll_with_literal(poll: dict[str, Any], literal: str) -> str:
    race = poll["races"][0]
    return _literal_in(race["reports"][0], lambda element: {**poll, "races": [{**race, "reports": [element]}]},
                       literal)


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

RecordKind = Callable[[dict[str, Any]], str]  # a good record -> the text of a broken one


def _whole_record_kinds(prefix: str, next_schema: str, with_literal: Callable[[dict[str, Any], str], str],
                        entries: str, extra: dict[str, RecordKind]) -> dict[str, RecordKind]:
    """The ways a batch (or a poll) breaks as a whole; `entries` names its list, `extra` its own ids' kinds."""
    return {
        f"{prefix}_not_json": lambda r: _dumps(r)[: len(_dumps(r)) // 2],
        f"{prefix}_not_object": lambda r: _dumps([r]),
        f"{prefix}_nan_count": lambda r: with_literal(r, "NaN"),  # one bad number: the whole record is not JSON
        f"{prefix}_unknown_schema": lambda r: _with(r, schema=next_schema),
        f"{prefix}_empty_state": lambda r: _with(r, state=""),
        **extra,
        f"{prefix}_missing_election_id": lambda r: _without(r, "election_id"),
        f"{prefix}_unknown_mode": lambda r: _with(r, mode="rehearsal"),
        f"{prefix}_{entries}_empty": lambda r: _with(r, **{entries: []}),
        f"{prefix}_{entries}_missing": lambda r: _without(r, entries),
        f"{prefix}_{entries}_not_list": lambda r: _with(r, **{entries: r[entries][0]}),
    }


BATCH_KINDS = _whole_record_kinds("batch", "precinct-batch/9", _batch_with_literal, "reports",
                                  {"batch_race_id_not_text": lambda b: _with(b, race_id=7)})

# --- In polls (`state-poll/1`) --------------------------------------------------------------
# Elements break as in a batch (ELEMENT_KINDS, with the poll's fields and the race's id); a
# broken race entry is a dead letter alone and the other races are applied; a broken poll is
# one dead letter as a whole. Race entry kinds take the entry (`{race_id, reports}`) and return
# its JSON text.

RACE_ENTRY_KINDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "race_entry_not_object": lambda r: _dumps(r["race_id"]),
    "race_entry_empty_race_id": lambda r: _with(r, race_id=""),
    "race_entry_race_id_not_text": lambda r: _with(r, race_id=7),
    "race_entry_missing_race_id": lambda r: _without(r, "race_id"),
    "race_entry_reports_empty": lambda r: _with(r, reports=[]),
    "race_entry_reports_missing": lambda r: _without(r, "reports"),
    "race_entry_reports_not_list": lambda r: _with(r, reports=r["reports"][0]),
}

POLL_KINDS = _whole_record_kinds("poll", "state-poll/9", _poll_with_literal, "races", {})

# Every kind the simulator writes, in the truth file (the same however the night is packed).
ALL_KIND_NAMES = {"single": list(KIND_NAMES), "batch_element": list(ELEMENT_KINDS), "batch": list(BATCH_KINDS),
                  "poll_race_entry": list(RACE_ENTRY_KINDS), "poll": list(POLL_KINDS)}
