"""Decoding `state-poll/1` (docs/CONTRACT.md): a state's poll, race after race, in one record.

A poll that breaks a poll rule is refused whole (`InvalidRecord`). Otherwise each race entry is
judged alone (a bad one is a `RefusedElement` with index `i`, its compact JSON, a reason naming
`races[i]`), and each element of a good race entry exactly as an element of a batch of that
race (index `i.j`, a reason naming `races[i].reports[j]`). The rest is decoded in list order,
race by race; the record's key is the state key.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.contract import PrecinctRecord, decode_precinct_record
from streams.contract.validation import MAX_BATCH_REPORTS
from streams.errors import InvalidRecord
from tests.unit.test_batches import ELEMENT_RULES, assert_refused_whole, batch, element, good_elements
from tests.unit.test_contract import _changed


def race(race_id: str, *elements: object) -> dict[str, Any]:
    return {"race_id": race_id, "reports": list(elements) if elements else [element(1), element(2)]}


def poll(*races: object, **changes: Any) -> dict[str, Any]:
    """A `state-poll/1` of CA (president and senate by default), `changes` applied."""
    entries = list(races) if races else [race("president"), race("senate", element(3))]
    return _changed({"schema": "state-poll/1", "election_id": "2024-11-05", "state": "CA", "races": entries}, changes)


def decoded(value: object) -> PrecinctRecord:
    return decode_precinct_record(orjson.dumps(value))


def as_batches(value: dict[str, Any]) -> list[PrecinctRecord]:
    """The poll's race entries, each sent as a batch of its race."""
    return [decoded(batch(*entry["reports"], race_id=entry["race_id"], mode=value.get("mode", "live")))
            for entry in value["races"]]


def test_a_good_poll_gives_every_race_in_order_under_the_state_key() -> None:
    record = decoded(poll())
    assert record.key == "2024-11-05/CA"
    assert record.refused == []
    assert [(r.race_id, r.precinct_id) for r in record.reports] == [
        ("president", "06037-0001"), ("president", "06037-0002"), ("senate", "06037-0003")]
    assert all((r.election_id, r.state, r.mode) == ("2024-11-05", "CA", "live") for r in record.reports)


def test_a_race_may_come_twice_and_the_poll_mode_is_every_reports() -> None:
    record = decoded(poll(race("senate", element(1)), race("president", element(2)), race("senate", element(3)),
                          mode="test"))
    assert [(r.race_id, r.precinct_id, r.mode) for r in record.reports] == [
        ("senate", "06037-0001", "test"), ("president", "06037-0002", "test"), ("senate", "06037-0003", "test")]


@pytest.mark.parametrize(
    ("changes", "kind", "reason"),
    [
        ({"election_id": ...}, "missing_field", "election_id is missing"),
        ({"state": ""}, "empty_id", "state is empty"),
        ({"state": 6}, "wrong_type", "state is 6 (a number)"),
        ({"mode": "preview"}, "bad_mode", "mode is \"preview\""),
        ({"races": ...}, "missing_field", "races is missing"),
        ({"races": []}, "empty_batch", "races is empty, a poll carries at least one race"),
        ({"races": None}, "wrong_type", "races is null (null), want a list"),
        ({"races": {"president": []}}, "wrong_type", "races is {"),
        ({"schema": "state-poll/2"}, "unknown_schema", "schema is \"state-poll/2\""),
    ],
)
def test_a_poll_breaking_a_poll_rule_is_refused_whole(changes: dict[str, Any], kind: str, reason: str) -> None:
    assert_refused_whole(poll(**changes), kind, reason)


def test_a_poll_of_more_reports_than_a_batch_may_hold_is_refused_whole() -> None:
    # Else 30 KB of `{}` elements would be 10,002 dead letters out of one record.
    half = MAX_BATCH_REPORTS // 2 + 1
    with pytest.raises(InvalidRecord) as caught:
        decoded(poll(race("a", *[{}] * half), race("b", *[{}] * half)))
    assert caught.value.kind == "too_many"
    assert len(decoded(poll(race("a", *[{}] * half), race("b", *[{}] * (half - 2)))).refused) == MAX_BATCH_REPORTS


RACE_ENTRY_RULES = [
    (7, "wrong_type", "the race entry is 7 (a number), want an object"),
    ("president", "wrong_type", 'the race entry is "president" (a string)'),
    ({"reports": [element(1)]}, "missing_field", "race_id is missing"),
    ({"race_id": "", "reports": [element(1)]}, "empty_id", "race_id is empty"),
    ({"race_id": 7, "reports": [element(1)]}, "wrong_type", "race_id is 7 (a number)"),
    ({"race_id": "x" * 257, "reports": [element(1)]}, "too_long", "race_id is 257 characters"),
    ({"race_id": "house"}, "missing_field", "reports is missing"),
    ({"race_id": "house", "reports": []}, "empty_batch", "reports is empty, a race entry carries at least one"),
    ({"race_id": "house", "reports": element(1)}, "wrong_type", "reports is {"),
]


@pytest.mark.parametrize(("bad", "kind", "reason"), RACE_ENTRY_RULES)
def test_a_race_entry_breaking_a_rule_is_refused_alone_and_the_other_races_are_kept(
        bad: object, kind: str, reason: str) -> None:
    record = decoded(poll(race("president", element(1)), bad, race("senate", element(3))))

    assert [(r.race_id, r.precinct_id) for r in record.reports] == [("president", "06037-0001"),
                                                                      ("senate", "06037-0003")]
    [refused] = record.refused
    assert refused.index == "1"
    assert refused.value == orjson.dumps(bad)
    assert refused.error.kind == kind
    assert refused.error.reason.startswith(f"races[1]: {reason}")


@pytest.mark.parametrize(("bad", "kind", "reason"), ELEMENT_RULES)
def test_an_element_breaking_a_rule_is_refused_alone_as_in_a_batch(bad: object, kind: str, reason: str) -> None:
    # The batch's rules, with the poll's ids: ELEMENT_RULES' batch is CA's president race.
    record = decoded(poll(race("senate", element(5)), race("president", element(1), bad, element(3))))

    assert [r.precinct_id for r in record.reports] == ["06037-0005", "06037-0001", "06037-0003"]
    [refused] = record.refused
    assert refused.index == "1.1"
    assert refused.value == orjson.dumps(bad)
    assert refused.error.kind == kind
    assert refused.error.reason.startswith(f"races[1].reports[1]: {reason}")


def test_bad_race_entries_and_bad_elements_are_all_refused_in_order() -> None:
    record = decoded(poll(race("president", element(1, seq=-1), element(2)), {"race_id": ""},
                          race("senate", element(3), 7)))
    assert [(r.index, r.error.kind) for r in record.refused] == [("0.0", "bad_seq"), ("1", "empty_id"),
                                                                  ("2.1", "wrong_type")]
    assert [r.precinct_id for r in record.reports] == ["06037-0002", "06037-0003"]


entries = st.lists(st.tuples(st.sampled_from(["president", "senate", "house-1"]),
                             st.lists(good_elements, min_size=1, max_size=5)), min_size=1, max_size=4)


@given(races=entries, mode=st.sampled_from(["live", "test"]))
def test_a_poll_decodes_to_the_same_reports_as_its_races_sent_as_batches(
        races: list[tuple[str, list[dict[str, Any]]]], mode: str) -> None:
    value = poll(*(race(race_id, *items) for race_id, items in races), mode=mode)
    record = decoded(value)
    assert record.refused == []
    assert record.reports == [r for one in as_batches(value) for r in one.reports]
