"""`votewire baseline --to-kafka` on the real broker: a compacted `baselines` topic, one record a race."""

from __future__ import annotations

import asyncio
from pathlib import Path

from streams.adapters.baselines import load_baselines
from streams.kafka.producer import produce_baselines
from streams.model.baselines import decode_baseline
from streams.model.sources import Target
from streams.settings import Settings
from tests.integration.test_broker import _consume_all, _describe

MN_2020 = Path(__file__).resolve().parents[2] / "streams" / "data" / "us-county-president" / "2020-MN.csv"


def test_baselines_go_to_a_compacted_topic_keyed_by_race(settings: Settings) -> None:
    baselines = load_baselines("us-county-president", MN_2020, Target("2024-11-05", "president", "MN"))
    asyncio.run(asyncio.wait_for(produce_baselines(settings, baselines), 60))

    topic = settings.topic("baselines")
    [(key, value)] = asyncio.run(asyncio.wait_for(_consume_all(settings.bootstrap, topic, 1), 30))
    assert key == b"2024-11-05/president/MN"
    assert decode_baseline(value) == baselines[0]
    configs = asyncio.run(asyncio.wait_for(_describe(settings.bootstrap, [topic]), 30))
    assert configs[topic]["cleanup.policy"] == "compact"
