"""The worker's lag timer right after a rebalance: a partition with no high-water mark yet."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from streams.settings import Settings
from streams.worker.agents import TallyWorker


class JustAssigned:
    """A consumer as faust's is right after a rebalance: one partition not fetched from yet."""

    def __init__(self) -> None:
        self.fetched = TopicPartition("precinct-results", 0)
        self.new = TopicPartition("precinct-results", 1)
        self._read_offset = {self.fetched: 9}

    def assignment(self) -> set[TopicPartition]:
        return {self.fetched, self.new}

    def highwater(self, tp: TopicPartition) -> int | None:
        return 15 if tp == self.fetched else None


def test_measure_lag_skips_a_partition_without_a_high_water_mark(tmp_path: Any) -> None:
    registry = CollectorRegistry()
    worker = TallyWorker(Settings(data_dir=str(tmp_path)), registry)
    worker.app.consumer = JustAssigned()
    asyncio.run(worker.measure_lag())
    lag = registry.get_sample_value("votewire_consumer_lag", {"topic": "precinct-results", "partition": "0"})
    assert lag == 5
    assert registry.get_sample_value("votewire_consumer_lag", {"topic": "precinct-results", "partition": "1"}) is None
