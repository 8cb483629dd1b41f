"""The SSE event log: monotonic ids, resume from the ring buffer, resync when it cannot."""

from __future__ import annotations

import asyncio

import orjson

from streams.gateway.sse import COALESCE_BEHIND, EventLog, event

ALL = ("state", "county", "alert")


def burst() -> list:
    return [event("state", {"burst": True})]


def test_ids_rise_by_one_and_carry_the_run() -> None:
    log = EventLog(run="r1")
    first, second = log.append("state", {"a": 1}), log.append("alert", {"b": 2})
    assert (first.n, second.n) == (1, 2)
    assert second.encode("r1") == b'id: r1:2\nevent: alert\ndata: {"b":2}\n\n'


def test_a_client_resuming_inside_the_buffer_gets_exactly_what_it_missed() -> None:
    log = EventLog(size=10, run="r1")
    for i in range(5):
        log.append("state", {"i": i})
    backlog, _ = log.subscribe("r1:3", ALL, burst)
    assert [ev.n for ev in backlog] == [4, 5]


def test_a_client_that_saw_everything_gets_nothing_again() -> None:
    log = EventLog(run="r1")
    log.append("state", {})
    backlog, _ = log.subscribe("r1:1", ALL, burst)
    assert backlog == []


def test_an_id_older_than_the_buffer_gets_the_current_state_then_a_sync() -> None:
    log = EventLog(size=3, run="r1")
    for i in range(6):
        log.append("state", {"i": i})
    backlog, _ = log.subscribe("r1:1", ALL, burst)
    assert [ev.kind for ev in backlog] == ["state", "sync"]
    assert backlog[0].n is None  # burst events carry no id: a cut-off client resyncs again
    assert backlog[1].n == 6


def test_ids_from_another_run_or_none_resync() -> None:
    log = EventLog(run="r2")
    log.append("state", {})
    for last in ("r1:1", None, "garbage", "r2:99"):
        backlog, _ = log.subscribe(last, ALL, burst)
        assert backlog[-1].kind == "sync", last


def test_the_first_event_after_an_empty_start_is_resumable() -> None:
    log = EventLog(size=2, run="r1")
    log.subscribe(None, ALL, burst)  # sync id r1:0
    log.append("state", {})
    backlog, _ = log.subscribe("r1:0", ALL, burst)
    assert [ev.n for ev in backlog] == [1]


def test_subscribers_get_only_the_kinds_they_asked_for() -> None:
    log = EventLog(run="r1")
    _, subscriber = log.subscribe(None, ("alert",), burst)
    log.append("state", {})
    log.append("alert", {})
    assert [ev.kind for ev in subscriber.take()] == ["alert"]


def test_events_after_subscribing_reach_the_subscriber_in_order() -> None:
    async def scenario() -> list[int | None]:
        log = EventLog(run="r1")
        _, subscriber = log.subscribe(None, ALL, burst)
        waiting = asyncio.create_task(subscriber.wait(5))
        await asyncio.sleep(0)
        log.append("state", {})
        log.append("county", {})
        assert await waiting
        return [ev.n for ev in subscriber.take()]

    assert asyncio.run(scenario()) == [1, 2]


def test_a_wait_with_nothing_new_times_out_and_a_shared_wake_survives_it() -> None:
    async def scenario() -> tuple[bool, bool]:
        log = EventLog(run="r1")
        _, quick = log.subscribe(None, ALL, burst)
        _, patient = log.subscribe(None, ALL, burst)
        patient_waits = asyncio.create_task(patient.wait(5))
        timed_out = await quick.wait(0.05)  # its timeout must not cancel the future both share
        log.append("alert", {"alert_id": "a"})
        return timed_out, await patient_waits

    assert asyncio.run(scenario()) == (False, True)


def test_a_subscriber_that_fell_out_of_the_ring_is_cut_off() -> None:
    log = EventLog(size=100, run="r1")
    _, subscriber = log.subscribe(None, ALL, burst)
    for i in range(100):
        log.append("alert", {"alert_id": f"a{i}"})
    assert len(subscriber.take(max_bytes=10**9)) == 100  # just within the ring
    for i in range(101):
        log.append("alert", {"alert_id": f"b{i}"})
    assert subscriber.take() == []
    assert subscriber.closed
    assert subscriber.cut_off
    log.unsubscribe(subscriber)
    assert not log.subscribers


def test_a_shutdown_close_is_not_a_cut_off() -> None:
    log = EventLog(run="r1")
    _, subscriber = log.subscribe(None, ALL, burst)
    log.close_all()
    assert subscriber.closed
    assert not subscriber.cut_off


def snapshot(state: str, version: int, county: str | None = None) -> dict[str, object]:
    message: dict[str, object] = {"election_id": "e", "race_id": "r", "state": state, "mode": "live",
                                  "version": version}
    return {**message, "county_fips": county} if county else message


def test_a_subscriber_keeping_up_gets_every_version() -> None:
    log = EventLog(run="r1")
    _, subscriber = log.subscribe(None, ALL, burst)
    for version in range(1, COALESCE_BEHIND // 2):
        log.append("state", snapshot("MN", version))
        log.append("county", snapshot("MN", version, "27053"))
    assert [ev.n for ev in subscriber.take(max_bytes=10**9)] == list(range(1, log.head + 1))


def test_a_subscriber_far_behind_gets_only_the_newest_snapshot_per_key_in_log_order() -> None:
    log = EventLog(run="r1")
    _, subscriber = log.subscribe(None, ALL, burst)
    for version in range(1, 500):
        log.append("state", snapshot("MN", version))
        log.append("county", snapshot("MN", version, "27053"))
    log.append("alert", {"alert_id": "a1"})
    log.append("alert", {"alert_id": "a2"})
    log.append("state", snapshot("WI", 1))
    log.append("state", snapshot("MN", 10**6))
    taken = subscriber.take()
    assert [(ev.kind, orjson.loads(ev.data).get("version")) for ev in taken] == [
        ("county", 499), ("alert", None), ("alert", None), ("state", 1), ("state", 10**6)]
    assert log.head > COALESCE_BEHIND
    assert [ev.n for ev in taken] == sorted(ev.n for ev in taken if ev.n is not None)
    assert subscriber.cursor == log.head


def test_a_take_is_bounded_and_the_cursor_stops_where_it_stopped() -> None:
    log = EventLog(run="r1")
    _, subscriber = log.subscribe(None, ALL, burst)
    for i in range(100):
        log.append("alert", {"alert_id": f"a{i}", "pad": "x" * 10_000})
    first = subscriber.take(max_bytes=50_000)
    assert 5 <= len(first) <= 6
    assert subscriber.cursor == first[-1].n
    rest = subscriber.take(max_bytes=10**9)
    assert [ev.n for ev in first + rest] == list(range(1, 101))


def test_an_event_is_encoded_once_and_shared() -> None:
    ev = event("state", snapshot("MN", 1), 7)
    assert ev.encode("r1") is ev.encode("r1")
    assert ev.encode("r1").startswith(b"id: r1:7\nevent: state\ndata: {")
    assert ev.encode("r2").startswith(b"id: r2:7\n")
