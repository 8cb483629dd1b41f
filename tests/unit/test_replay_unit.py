"""Replay's pure parts: pacing arithmetic, the progress line, the argument rules; no broker."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from streams import cli
from streams.contract.recording import RecordedLine, RecordingWriter
from streams.errors import ConfigError
from streams.kafka.producer import Sender
from streams.kafka.record import write_message
from streams.kafka.replay import Pacer, ReplayStats, replay_file, replay_files, wait_seconds
from streams.progress import Progress, format_duration, render
from streams.settings import Settings
from tests.support.recordings import read_lines


@pytest.mark.parametrize(("gap_ms", "speed", "max_gap", "wait"), [
    (1000, 1.0, None, 1.0),
    (1000, 4.0, None, 0.25),
    (3_024_000_000, 1000.0, 2.0, 2.0),  # five weeks at 1000x, capped at 2 s
    (500, 1.0, 2.0, 0.5),
    (-100, 1.0, None, 0.0),  # out-of-order times never wait
    (1000, None, None, 0.0),  # --max
])
def test_wait_seconds(gap_ms: int, speed: float | None, max_gap: float | None, wait: float) -> None:
    assert wait_seconds(gap_ms, speed, max_gap) == pytest.approx(wait)


def test_pacer_keeps_an_anchored_schedule() -> None:
    async def paced() -> float:
        pacer, stop = Pacer(speed=10.0, max_gap_s=None), asyncio.Event()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for ts in (0, 1000, 2000, 3000):  # 0.1 s apart at 10x
            await pacer.wait_for(ts, stop)
        return loop.time() - start

    assert 0.28 <= asyncio.run(paced()) < 1.0


def test_pacer_wakes_at_once_when_stopped() -> None:
    async def stopped() -> float:
        pacer, stop = Pacer(speed=1.0, max_gap_s=None), asyncio.Event()
        await pacer.wait_for(0, stop)
        asyncio.get_running_loop().call_later(0.05, stop.set)
        start = asyncio.get_running_loop().time()
        await pacer.wait_for(3_600_000, stop)  # an hour away
        return asyncio.get_running_loop().time() - start

    assert asyncio.run(stopped()) < 1.0


def test_a_missing_file_is_a_clear_error_before_any_connection(tmp_path: Path) -> None:
    settings = Settings.from_env({}, bootstrap="127.0.0.1:1")
    with pytest.raises(ConfigError, match=r"nope\.jsonl: no such recording file"):
        asyncio.run(replay_files(settings, [tmp_path / "nope.jsonl"], None, None, progress=False))


def test_the_command_line_reports_a_missing_file_with_exit_2(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["replay", str(tmp_path / "gone.jsonl.gz"), "--max"]) == 2
    assert "gone.jsonl.gz: no such recording file" in capsys.readouterr().err


def test_speed_and_max_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["replay", "x.jsonl", "--max", "--speed", "2"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_summary_line() -> None:
    stats = ReplayStats(sent=12_000, bad_lines=2, seconds=1.5)
    assert stats.summary() == "12,000 records sent, 2 bad lines, 1.5 s, 8,000 records/s"


def test_progress_line_with_eta() -> None:
    line = render("replay", 5000, 2.0, 0.25, "night.jsonl.gz")
    assert line.startswith("replay  5,000 records  2,500/s  [######..................]  25%")
    assert "ETA 0:06" in line
    assert line.endswith("night.jsonl.gz")
    assert format_duration(3725) == "1:02:05"


def test_progress_draws_nothing_when_not_a_terminal() -> None:
    out = io.StringIO()
    bar = Progress("replay", stream=out)
    bar.update(10, 0.5)
    bar.print_line("x.jsonl:3: not JSON")
    bar.close()
    assert out.getvalue() == "x.jsonl:3: not JSON\n"


def test_help_explains_the_verbs(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("replay", "record"):
        with pytest.raises(SystemExit):
            cli.main([verb, "--help"])
    text = capsys.readouterr().out
    assert "--max-gap" in text
    assert "--idle-exit" in text
    assert "--from-beginning" in text


# --- polls and batches: a state-poll/1 or a precinct-batch/1 is one record, sent and recorded whole

BATCH = {"schema": "precinct-batch/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
         "reports": [{"county_fips": "27001", "precinct_id": f"2700{i}", "seq": 0,
                      "reported_at": "2024-11-06T02:20:03Z", "votes": {"harris": i}, "complete": False}
                     for i in range(3)]}
POLL = {"schema": "state-poll/1", "election_id": "2024-11-05", "state": "MN",
        "races": [{"race_id": "president", "reports": BATCH["reports"]},
                  {"race_id": "senate", "reports": BATCH["reports"][:1]}]}
MN = "2024-11-05/MN"
GROUPED = pytest.mark.parametrize("grouped", [BATCH, POLL], ids=["batch", "poll"])


class FakeProducer:
    """Takes what a Sender sends; every send is acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.timestamps: list[int | None] = []

    async def send(self, topic: str, value: bytes | None, key: bytes | None, partition: int | None,
                   timestamp_ms: int | None = None) -> Any:
        self.sent.append((topic, key, value))
        self.timestamps.append(timestamp_ms)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}


async def replayed(settings: Settings, path: Path) -> tuple[FakeProducer, ReplayStats]:
    producer, stats = FakeProducer(), ReplayStats()
    sender = Sender(producer)
    await replay_file(settings, path, sender, Pacer(None, None), stats, Progress("replay", enabled=False),
                      asyncio.Event())
    await sender.drain()
    stats.sent = sender.sent
    return producer, stats


@GROUPED
def test_replay_sends_a_batch_or_poll_as_one_record_keyed_and_byte_for_byte_as_recorded(
        tmp_path: Path, grouped: dict[str, Any]) -> None:
    payload = orjson.dumps(grouped).decode().replace(",", ", ")  # a kcat dump keeps the producer's bytes
    lines = [{"ts": 1, "topic": "precinct-results", "key": MN, "value": grouped},
             {"ts": 2, "topic": "precinct-results", "key": MN, "payload": payload},
             {"ts": 3, "topic": "precinct-results", "key": MN, "value": BATCH["reports"][0]}]
    path = tmp_path / "night.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    settings = Settings.from_env({"VOTEWIRE_TOPIC_PREFIX": "t."})

    producer, stats = asyncio.run(replayed(settings, path))
    assert producer.sent == [("t.precinct-results", MN.encode(), orjson.dumps(grouped)),
                             ("t.precinct-results", MN.encode(), payload.encode()),
                             ("t.precinct-results", MN.encode(), orjson.dumps(BATCH["reports"][0]))]
    assert (stats.sent, stats.bad_lines) == (3, 0)  # records, whatever each carries
    assert stats.summary().startswith("3 records sent")


def test_replay_gives_the_workers_input_records_their_recorded_time(tmp_path: Path) -> None:
    """Design rule 7: a live race is released only when Kafka's time of its records also says
    polls have closed, so a replay at --max must send each input record with its recording's
    `ts`, not the moment it was replayed. Outputs keep the broker's time: an alert or dead
    letter stamped 2024 would be deleted at once by a delete topic's finite retention."""
    lines = [{"ts": 1_730_858_400_000, "topic": "race-definitions", "key": MN, "value": {"x": 1}},
             {"ts": 1_730_858_401_000, "topic": "expected-votes", "key": MN, "value": {"x": 2}},
             {"ts": 1_730_858_402_000, "topic": "precinct-results", "key": MN, "value": BATCH},
             {"ts": 1_730_858_403_000, "topic": "results-alerts", "key": MN, "value": {"x": 3}}]
    path = tmp_path / "night.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    producer, _ = asyncio.run(replayed(Settings.from_env({"VOTEWIRE_TOPIC_PREFIX": "t."}), path))
    assert producer.timestamps == [1_730_858_400_000, 1_730_858_401_000, 1_730_858_402_000, None]


@GROUPED
def test_record_keeps_a_batch_or_poll_whole_so_its_replay_is_byte_identical(tmp_path: Path,
                                                                           grouped: dict[str, Any]) -> None:
    value = orjson.dumps(grouped)
    msg = SimpleNamespace(topic="t.precinct-results", partition=1, offset=7, timestamp=1_730_859_603_000,
                          key=MN.encode(), value=value)
    settings = Settings.from_env({"VOTEWIRE_TOPIC_PREFIX": "t."})
    with RecordingWriter(tmp_path / "rec.jsonl") as writer:
        assert write_message(writer, settings, msg, Progress("record", enabled=False))
    [line] = read_lines(tmp_path / "rec.jsonl")
    assert line == RecordedLine(1, 1_730_859_603_000, "precinct-results", MN, value)
