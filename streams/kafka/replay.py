"""Recorded nights back into the topics, at their own pace or flat out (`votewire replay`); and the
producer that ingest, demo and record send with (`open_producer`, `Sender`, `produce_records`).

Records go out in the files' order (that is the source-time order), to the prefixed name of
the topic they were recorded from, keyed as recorded, with the default murmur2 partitioner,
so a key lands on the partition any Kafka producer would choose; records of the worker's
input topics carry their recorded `ts` as their Kafka timestamp (`RECORDED_TIME_TOPICS`).
Timing: the gap between two records' `ts` is waited again, divided by `--speed` and capped by `--max-gap`; `--max` sends
as fast as the broker takes them, never awaiting one send before the next, with a bounded
number of unacknowledged records in flight.

A bad line is one line on stderr (`FILE:LINE: reason`), skipped and counted; so is a line for
a topic outside the contract (a typo there would otherwise create a topic nobody reads), unless
`other_topics` allows it. `strict` stops at the first such line instead (`ReplayRefused`).
Whether the replay did its job (anything sent) is the command's to say (streams.commands.replay).
A `state-poll/1` or `precinct-batch/1` is one record like any other: sent whole, counted once
(`records sent` counts records, not the precinct reports they carry).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streams import contract
from streams.contract.recording import BadLine, RecordingReader
from streams.errors import ConfigError, VotewireError
from streams.kafka.producer import Sender, open_producer
from streams.kafka.topics import CONTRACT_TOPICS, ensure_topics
from streams.progress import Progress
from streams.settings import Settings

# The worker's input topics get their records' recorded time (`ts`) as their Kafka timestamp:
# a live race is released only when Kafka's time of its records says polls have closed too
# (design rule 7), so a night replayed at --max is released at the recorded moment, not at
# once. They keep their records whatever their age (precinct-results never deletes, the race
# book is compacted). Any other topic (a recording of alerts, say) gets the send time, or a
# 2024 timestamp would have its records deleted at once by the topic's retention.
RECORDED_TIME_TOPICS = frozenset({contract.RACE_DEFINITIONS, contract.EXPECTED_VOTES, contract.RACE_CALLS,
                                  contract.PRECINCT_RESULTS})
CONTRACT_TOPIC_NAMES = frozenset(spec.name for spec in CONTRACT_TOPICS)


class ReplayRefused(VotewireError):
    """`--strict`: a line that is not sent (bad, or for a topic outside the contract) stops the replay."""


@dataclass(frozen=True)
class LineRules:
    strict: bool = False  # stop at the first line not sent
    other_topics: bool = False  # send lines for topics outside the contract too


@dataclass
class ReplayStats:
    sent: int = 0
    bad_lines: int = 0
    other_topics: int = 0  # lines for topics outside the contract, skipped
    seconds: float = 0.0
    interrupted: bool = False
    position: str = ""  # FILE:LINE of the last line handled, for "stopped at ..."

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def skipped(self) -> int:
        return self.bad_lines + self.other_topics

    def summary(self) -> str:
        other = f"{self.other_topics:,} for topics outside the contract skipped, " if self.other_topics else ""
        return (f"{self.sent:,} records sent, {self.bad_lines:,} bad lines, {other}"
                f"{self.seconds:.1f} s, {self.rate:,.0f} records/s")



def wait_seconds(gap_ms: int, speed: float | None, max_gap_s: float | None) -> float:
    """How long to wait between two records `gap_ms` apart in source time."""
    if speed is None or gap_ms <= 0:
        return 0.0
    wait = gap_ms / 1000 / speed
    return min(wait, max_gap_s) if max_gap_s is not None else wait


@dataclass
class Pacer:
    """Keeps a schedule anchored to the first record, so small sleeps do not add up to drift."""

    speed: float | None
    max_gap_s: float | None
    _prev_ts: int | None = None
    _due: float = 0.0

    async def wait_for(self, ts_ms: int, stop: asyncio.Event) -> None:
        if self.speed is None:
            return
        now = time.monotonic()
        if self._prev_ts is None:
            self._due = now
        else:
            self._due += wait_seconds(ts_ms - self._prev_ts, self.speed, self.max_gap_s)
        self._prev_ts = ts_ms
        if self._due > now:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._due - now)


def check_files(paths: Sequence[Path]) -> None:
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"{path}: no such recording file")


async def replay_files(settings: Settings, paths: Sequence[Path], speed: float | None, max_gap: float | None,
                       progress: bool, stop: asyncio.Event | None = None, rules: LineRules = LineRules(),
                       ) -> ReplayStats:
    """Replay recordings in order into `settings`' topics; `speed=None` is as fast as possible."""
    check_files(paths)
    if speed is not None and speed <= 0:
        raise ConfigError(f"--speed {speed} must be > 0")
    stop = stop or asyncio.Event()
    await ensure_topics(settings)
    stats, bar, started = ReplayStats(), Progress("replay", enabled=progress), time.monotonic()
    pacer = Pacer(speed, max_gap)
    try:
        async with open_producer(settings) as producer:
            sender = Sender(producer)
            for path in paths:
                if stop.is_set():
                    break
                await replay_file(settings, path, sender, pacer, stats, bar, stop, rules)
            await sender.drain()
            stats.sent = sender.sent
    finally:
        bar.close()
        stats.seconds = time.monotonic() - started
    stats.interrupted = stop.is_set()
    return stats


async def replay_file(settings: Settings, path: Path, sender: Sender, pacer: Pacer, stats: ReplayStats,
                      bar: Progress, stop: asyncio.Event, rules: LineRules = LineRules()) -> None:
    skip = Skipper(rules, sender, bar)
    with RecordingReader(path) as reader:
        try:
            for line in reader:
                stats.position = f"{path}:{reader.line_no}"
                if isinstance(line, BadLine):
                    stats.bad_lines += 1
                    skip(f"{path}:{line.line_no}: {line.reason}")
                elif line.topic not in CONTRACT_TOPIC_NAMES and not rules.other_topics:
                    stats.other_topics += 1
                    skip(f"{path}:{line.line_no}: topic {line.topic!r} is not a contract topic; skipped "
                         "(--allow-other-topics sends it)")
                else:
                    await pacer.wait_for(line.ts_ms, stop)
                    if stop.is_set():
                        return
                    timestamp = line.ts_ms if line.topic in RECORDED_TIME_TOPICS else None
                    await sender.send(settings.topic(line.topic), line.key, line.value, timestamp)
                    if bar.due:
                        bar.update(sender.sent, reader.fraction_read, path.name)
        except (OSError, EOFError) as e:  # not gzip, or a truncated or corrupt gzip stream: the rest is unreadable
            stats.bad_lines += 1
            skip(f"{path}:{reader.line_no + 1}: unreadable, rest of file skipped ({e})")


SHOWN_SKIPS = 10  # per file: a file of garbage is one failure, not a screen of it


@dataclass
class Skipper:
    """Says why a line is not sent, on stderr; with `--strict`, stops the replay there instead."""

    rules: LineRules
    sender: Sender
    bar: Progress
    shown: int = 0

    def __call__(self, note: str) -> None:
        if self.rules.strict:
            raise ReplayRefused(f"{note}; stopped by --strict after {self.sender.sent:,} records sent")
        self.shown += 1
        if self.shown <= SHOWN_SKIPS:
            self.bar.print_line(note if self.shown < SHOWN_SKIPS else f"{note} (further skipped lines: counted only)")
