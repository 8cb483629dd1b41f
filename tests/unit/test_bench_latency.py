"""`make bench`'s latency offer (bench/latency.py) without a broker: which reports it makes of
a night's units, and how it packs a delivery; and which workers the parts keep running."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from bench.latency import Offer, recorded_units, result_key, synthetic_units
from bench.sidebyside import SideBySide
from streams.contract.batching import poll_records, record_reports
from streams.contract.recording import OutRecord, RecordingWriter
from streams.settings import Settings


def report(race: str, state: str, precinct: str, seq: int, **more: Any) -> dict[str, Any]:
    return {"schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": race, "state": state,
            "county_fips": "13001", "precinct_id": precinct, "seq": seq, "reported_at": "2024-11-06T02:00:00Z",
            "votes": {"a": 5, "b": 4}, "complete": False, **more}


def write_night(path: Path, reports: list[dict[str, Any]]) -> None:
    with RecordingWriter(path) as out:
        out.write(OutRecord(1, "race-definitions", "2024-11-05/gov/GA", {"not": "a report"}))
        for value in poll_records(reports):
            out.write(OutRecord(2, "precinct-results", "2024-11-05/GA", value))


def test_a_nights_units_are_their_last_valid_reports_and_the_offer_starts_above_every_recorded_seq(
        tmp_path: Path) -> None:
    night = tmp_path / "night.jsonl"
    write_night(night, [report("gov", "GA", "p1", 1), report("gov", "GA", "p2", 7), report("gov", "GA", "p1", 3),
                        report("gov", "GA", "p3", 99, votes={"a": -1}),  # refused by the contract: no unit
                        report("senate", "GA", "p1", 2)])
    units, first_seq = recorded_units(night, {"2024-11-05/gov/GA/live", "2024-11-05/senate/GA/live"})
    assert first_seq == 8
    assert sorted((u["race_id"], u["precinct_id"], u["seq"]) for u in units) == [
        ("gov", "p1", 3), ("gov", "p2", 7), ("senate", "p1", 2)]
    only_gov, _ = recorded_units(night, {"2024-11-05/gov/GA/live"})
    assert {u["race_id"] for u in only_gov} == {"gov"}


def offer(units: list[dict[str, Any]], delivery: Any) -> Offer:
    return Offer(Settings.from_env({}), rate=1000, seconds=1.0, first_seq=10, units=units, delivery=delivery)


def test_as_state_polls_a_delivery_is_one_poll_per_state_with_each_units_reports_in_seq_order() -> None:
    units = [report("gov", "GA", "p1", 1), report("senate", "GA", "p1", 1), report("gov", "AZ", "p1", 1)]
    feed = offer(units, "polls")
    records = list(feed.due_records(7))  # two rounds and one more: seqs 10, 11, 12
    assert [r["schema"] for r in records] == ["state-poll/1", "state-poll/1"]
    assert [r["state"] for r in records] == ["GA", "AZ"]
    ga = [(r["race_id"], r["seq"]) for r in record_reports(records[0])]
    assert ga == [("gov", 10), ("gov", 11), ("gov", 12), ("senate", 10), ("senate", 11)]
    assert [len(race["reports"]) for race in records[0]["races"]] == [3, 2]
    assert set(feed.last_ms) == {result_key(u) for u in units}
    assert (feed.sent, feed.next_seq) == (7, 13)


def test_a_reports_votes_change_with_its_seq_so_every_round_is_news_to_the_worker() -> None:
    feed = offer([report("gov", "GA", "p1", 1)], "batches")
    first, second = (feed.report(i)[1] for i in range(2))
    assert (first["seq"], second["seq"]) == (10, 11)
    assert first["votes"] == {"a": 105, "b": 104}
    assert second["votes"] == {"a": 115, "b": 114}
    assert first["reported_at"].endswith("Z")
    [batch] = feed.due_records(2)
    assert batch["schema"] == "precinct-batch/1"
    assert len(batch["reports"]) == 2


def test_the_default_units_are_the_synthetic_race_spread_over_50_states() -> None:
    units = synthetic_units()
    assert len(units) == 50 * 1000
    assert [u["state"] for u in units[:3]] == ["L00", "L01", "L02"]
    assert len({result_key(u) for u in units}) == 50
    assert orjson.loads(orjson.dumps(units[0]))["votes"] == {"a": 7, "b": 3}


class FakeWorker:
    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_a_worker_stays_up_until_the_last_part_that_goes_on_with_it_and_only_if_it_ended_exact(
        tmp_path: Path) -> None:
    parts = SideBySide(argparse.Namespace(), tmp_path, "127.0.0.1:9", board=None)  # type: ignore[arg-type]
    parts.keep = {"ballot-polls": "ballot-latency"}
    kept, inexact, other = FakeWorker(), FakeWorker(), FakeWorker()
    parts.keep_or_stop("ballot-polls", kept, exact=True)  # type: ignore[arg-type]
    parts.keep_or_stop("ballot-polls", inexact, exact=False)  # type: ignore[arg-type]
    parts.keep_or_stop("us", other, exact=True)  # type: ignore[arg-type]
    assert (kept.stopped, inexact.stopped, other.stopped) == (False, True, True)
    parts.release_after("ballot-restart")
    assert not kept.stopped
    assert parts.live == {"ballot-polls": kept}
    parts.release_after("ballot-latency")
    assert kept.stopped
    assert parts.live == {}
