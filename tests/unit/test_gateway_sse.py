"""The SSE event log: monotonic ids, resume from the ring buffer, resync when it cannot."""

from __future__ import annotations

import asyncio

from streams.gateway.sse import MAX_PENDING, MAX_PENDING_BYTES, EventLog, event

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
        log.append("state", {})
        log.append("county", {})
        await asyncio.wait_for(subscriber.wake.wait(), 1)
        return [ev.n for ev in subscriber.take()]

    assert asyncio.run(scenario()) == [1, 2]


def test_a_subscriber_too_far_behind_is_cut_off_not_buffered_forever() -> None:
    log = EventLog(run="r1")
    _, subscriber = log.subscribe(None, ALL, burst)
    for _ in range(MAX_PENDING + 1):
        log.append("state", {})
    assert subscriber.closed
    log.unsubscribe(subscriber)
    assert not log.subscribers


def test_a_subscriber_holding_a_megabyte_unsent_is_cut_off_and_its_buffer_freed() -> None:
    log = EventLog(run="r1")
    _, subscriber = log.subscribe(None, ALL, burst)
    snapshot = {"pad": "x" * 10_000}
    for _ in range(MAX_PENDING_BYTES // 10_000 - 1):
        log.append("state", snapshot)
    assert not subscriber.closed
    assert subscriber.pending_bytes <= MAX_PENDING_BYTES
    log.append("state", snapshot)
    log.append("state", snapshot)
    assert subscriber.closed
    assert subscriber.cut_off
    assert (len(subscriber.pending), subscriber.pending_bytes) == (0, 0)


def test_a_shutdown_close_is_not_a_cut_off() -> None:
    log = EventLog(run="r1")
    _, subscriber = log.subscribe(None, ALL, burst)
    log.close_all()
    assert subscriber.closed
    assert not subscriber.cut_off
