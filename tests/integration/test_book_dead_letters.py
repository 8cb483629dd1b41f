"""Bad race-book records on the real broker: every worker reads the whole book, but a bad record
is dead-lettered once, by the worker that owns the partition it came from (streams.worker.book_reader),
whether it was written before the workers started, while both ran, or after one of them stopped."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path

from streams import contract
from streams.kafka.topics import ensure_topics, home_partition
from streams.settings import Settings
from tests.integration.harness import read_topic, run, send_raw, stop_process, wait_for
from tests.integration.pipeline import two_ready_workers


def bad_definitions(settings: Settings, tag: str) -> list[tuple[bytes, bytes]]:
    """One record that is not JSON on each race-definitions partition, its value naming it."""
    by_partition: dict[int, tuple[bytes, bytes]] = {}
    for i in range(100):
        key = f"2024-11-05/{tag}{i}/MN"
        by_partition.setdefault(home_partition(key, settings.partitions), (key.encode(), f"not json {tag}{i}".encode()))
    assert len(by_partition) == settings.partitions
    return list(by_partition.values())


def dead_letters(settings: Settings) -> Counter[bytes]:
    source = settings.topic(contract.RACE_DEFINITIONS).encode()
    return Counter(r.raw for r in run(read_topic(settings, contract.DEAD_LETTERS))
                   if r.headers.get("votewire-source", b"").startswith(source) and r.raw is not None)


def sent_once(settings: Settings, records: list[tuple[bytes, bytes]], alive: subprocess.Popen[bytes]) -> None:
    values = {value for _, value in records}
    wait_for(lambda: values <= set(dead_letters(settings)), 60, what="the bad definitions dead-lettered", alive=alive)
    time.sleep(5)  # a second worker's copy would be out by now
    counts = dead_letters(settings)
    assert {value: counts[value] for value in values} == dict.fromkeys(values, 1)


def test_a_bad_definition_is_dead_lettered_once_by_the_owner_of_its_partition(settings: Settings,
                                                                                tmp_path: Path) -> None:
    run(ensure_topics(settings))
    before = bad_definitions(settings, "before")
    run(send_raw(settings, contract.RACE_DEFINITIONS, before))  # read by both at start, as fresh
    with two_ready_workers(settings, tmp_path) as (a, b):
        sent_once(settings, before, a)
        both = bad_definitions(settings, "both")
        run(send_raw(settings, contract.RACE_DEFINITIONS, both))
        sent_once(settings, both, a)
        stop_process(b)  # its partitions move to a
        after = bad_definitions(settings, "after")
        run(send_raw(settings, contract.RACE_DEFINITIONS, after))
        sent_once(settings, after, a)
