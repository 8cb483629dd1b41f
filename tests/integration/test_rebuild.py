"""The rebuild after an assignment on the real broker: what it reads besides the input log
must not stop it (streams.worker.rebuild)."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streams import contract
from streams.counting.holds import Floor
from streams.settings import Settings
from streams.worker.agents import TallyWorker
from tests.integration.harness import ensure_worker_topics, run, send_raw

KEY = "2024-11-05/president/MN/live"


def test_a_record_in_state_results_that_is_no_snapshot_is_skipped_and_the_rebuild_finishes(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """`state-results` is read for the holds: a record there that is not one of our snapshots
    (another writer, a damaged record) is skipped with one warning, not a rebuild retried forever."""
    run(ensure_worker_topics(settings))
    good = orjson.dumps({"version": 5, "total_votes": 10})
    run(send_raw(settings, contract.STATE_RESULTS, [
        (KEY.encode(), good), (b"2024-11-05/president/WI/live", b"not json"),
        (b"2024-11-05/president/PA/live", b'{"version": "high"}'), (b"2024-11-05/president/GA/live", b"[1, 2]")]))
    worker = TallyWorker(settings, CollectorRegistry())
    worker.owned = set(range(settings.partitions))

    async def assigned() -> None:
        worker.rebuilding = asyncio.ensure_future(worker.rebuild(set(worker.owned), None))
        await worker.rebuilding

    with caplog.at_level(logging.WARNING, logger="streams.worker.rebuild"):
        run(assigned(), deadline_s=30)
    assert worker.tallies_ready.is_set()
    warnings = [r.getMessage() for r in caplog.records if "no snapshot" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "3 records" in warnings[0]
    assert worker.holds.published == {KEY: Floor(5, 10, None)}, "the good snapshot still holds its key back"
