"""streams.contract.batching: reports of one race, state and mode -> precinct-batch/1 values under the limit."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams import contract
from streams.contract.batching import batch_records, poll_records, record_key, record_reports
from streams.contract.validation import MAX_BATCH_REPORTS
from streams.errors import InvalidRecord


def report(precinct_id: str, votes: int = 10, **changes: Any) -> dict[str, Any]:
    return {"schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
            "county_fips": "27053", "precinct_id": precinct_id, "seq": 0, "reported_at": "2024-11-06T03:00:00Z",
            "votes": {"harris": votes, "trump": votes // 2}, "complete": False, **changes}


def decoded(batches: list[dict[str, Any]]) -> list[contract.PrecinctReport]:
    records = [contract.decode_precinct_record(orjson.dumps(b)) for b in batches]
    assert all(not r.refused for r in records)
    return [r for record in records for r in record.reports]


def test_one_batch_carries_the_envelope_once_and_the_reports_in_order() -> None:
    reports = [report("p1"), report("p2", mode="live"), report("p3")]
    [batch] = batch_records(reports)

    assert {k: v for k, v in batch.items() if k != "reports"} == {
        "schema": "precinct-batch/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
        "mode": "live"}
    assert [e["precinct_id"] for e in batch["reports"]] == ["p1", "p2", "p3"]
    assert not any(name in e for e in batch["reports"] for name in ("schema", "election_id", "mode"))
    assert record_key(batch) == "2024-11-05/MN"  # design rule 3: records are keyed by state


def test_no_reports_no_batch() -> None:
    assert list(batch_records([])) == []


def test_the_batch_decodes_to_the_same_reports_as_each_alone() -> None:
    reports = [report(f"p{i}", votes=i, mode="test") for i in range(5)]
    singles = [contract.decode_precinct_record(orjson.dumps(r)).reports[0] for r in reports]
    assert decoded(list(batch_records(reports))) == singles


@given(st.lists(st.integers(0, 400), min_size=1, max_size=40), st.integers(800, 3000))
def test_a_long_list_is_split_in_order_each_batch_within_the_limit(padding: list[int], limit: int) -> None:
    reports = [report(f"p{i}", note="x" * pad) for i, pad in enumerate(padding)]
    batches = list(batch_records(reports, max_bytes=limit))

    assert all(len(orjson.dumps(b)) <= limit for b in batches)
    assert [e["precinct_id"] for b in batches for e in b["reports"]] == [r["precinct_id"] for r in reports]
    # Greedy: the next batch's first report did not fit in the one before it.
    for before, after in itertools.pairwise(batches):
        grown = {**before, "reports": [*before["reports"], after["reports"][0]]}
        assert len(orjson.dumps(grown)) > limit


def test_the_split_is_exact_at_the_limit() -> None:
    reports = [report(f"p{i}") for i in range(3)]
    whole = len(orjson.dumps(next(batch_records(reports))))
    assert len(list(batch_records(reports, max_bytes=whole))) == 1
    assert len(list(batch_records(reports, max_bytes=whole - 1))) == 2


def test_the_default_limit_is_the_contracts() -> None:
    big = [report(f"p{i}", note="x" * 10_000) for i in range(250)]  # ~2.5 MB
    batches = list(batch_records(big))
    assert len(batches) == 3
    assert all(len(orjson.dumps(b)) <= contract.MAX_PAYLOAD_BYTES for b in batches)
    assert len(decoded(batches)) == 250


@pytest.mark.parametrize(("records", "name"), [(batch_records, "batch"), (poll_records, "poll")])
def test_a_report_too_large_even_alone_is_refused_before_it_is_sent(records: Any, name: str) -> None:
    with pytest.raises(InvalidRecord, match=fr"'p2' makes a {name} of \d+ bytes even alone, over the 400") as caught:
        list(records([report("p1"), report("p2", note="x" * 500)], max_bytes=400))
    assert caught.value.kind == "too_large"


@pytest.mark.parametrize("other", [{"state": "WI"}, {"race_id": "senate"}, {"mode": "test"}])
def test_a_report_of_another_race_state_or_mode_is_a_programming_error(other: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="one race, state and mode"):
        list(batch_records([report("p1"), report("p2", **other)]))


# --- state-poll/1: every race of one state and mode -----------------------------------------


def test_one_poll_carries_the_state_once_and_each_run_of_a_race_as_an_entry() -> None:
    reports = [report("p1"), report("p2"), report("p1", race_id="senate"), report("p3")]
    [poll] = poll_records(reports)

    assert {k: v for k, v in poll.items() if k != "races"} == {
        "schema": "state-poll/1", "election_id": "2024-11-05", "state": "MN", "mode": "live"}
    assert [(r["race_id"], [e["precinct_id"] for e in r["reports"]]) for r in poll["races"]] == [
        ("president", ["p1", "p2"]), ("senate", ["p1"]), ("president", ["p3"])]
    assert not any(name in e for r in poll["races"] for e in r["reports"] for name in ("race_id", "state", "mode"))
    assert record_key(poll) == "2024-11-05/MN"
    assert decoded([poll]) == [contract.decode_precinct_record(orjson.dumps(r)).reports[0] for r in reports]


def test_no_reports_no_poll() -> None:
    assert list(poll_records([])) == []


@given(st.lists(st.tuples(st.sampled_from(["president", "senate"]), st.integers(0, 400)), min_size=1, max_size=40),
       st.integers(900, 3000))
def test_a_long_poll_is_split_in_order_between_races_or_within_one_each_within_the_limit(
        shape: list[tuple[str, int]], limit: int) -> None:
    reports = [report(f"p{i}", race_id=race_id, note="x" * pad) for i, (race_id, pad) in enumerate(shape)]
    polls = list(poll_records(reports, max_bytes=limit))

    assert all(len(orjson.dumps(p)) <= limit for p in polls)
    assert [(r.race_id, r.precinct_id) for r in decoded(polls)] == [(r["race_id"], r["precinct_id"]) for r in reports]
    # Greedy: the next poll's first report did not fit in the one before it.
    for before, after in itertools.pairwise(polls):
        grown = list(poll_records([*record_reports(before), record_reports(after)[0]], max_bytes=limit))
        assert len(grown) == 2


def test_a_poll_is_split_at_the_element_limit_too() -> None:
    reports = [report(f"p{i}", race_id=f"r{i % 3}") for i in range(MAX_BATCH_REPORTS + 5)]
    polls = list(poll_records(reports, max_bytes=16 * contract.MAX_PAYLOAD_BYTES))
    assert [sum(len(r["reports"]) for r in p["races"]) for p in polls] == [MAX_BATCH_REPORTS, 5]


@pytest.mark.parametrize("other", [{"state": "WI"}, {"election_id": "2020-11-03"}, {"mode": "test"}])
def test_a_report_of_another_state_or_mode_in_a_poll_is_a_programming_error(other: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="one election, state and mode"):
        list(poll_records([report("p1"), report("p2", **other)]))


def test_a_poll_and_a_batch_come_back_as_their_reports() -> None:
    reports = [report("p1"), report("p1", race_id="senate", mode="live")]
    [poll] = poll_records(reports)
    assert [orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in record_reports(poll)] == [
        orjson.dumps({**r, "mode": "live"}, option=orjson.OPT_SORT_KEYS) for r in reports]
    [batch] = batch_records(reports[:1])
    assert record_reports(batch) == [{**reports[0], "mode": "live"}]
