"""Live readouts in the terminal (`votewire watch`), one entry per new state snapshot.

An entry is the readout line, then (when the snapshot has them) the race's call in words (a ✓
only for a race called), the second readout line of what the trailing candidate needs, and the
counties with the most expected vote still out, named from the cached `us-atlas` file when it is
there (else by FIPS).

It reads `state-results` from the beginning (the compacted topic holds the latest snapshot of
every race, so the first lines are the current picture), or follows a gateway's `/v1/stream`
with `--gateway URL`, resuming with `Last-Event-ID` when the connection drops. Only a snapshot
newer than the last one printed for its key makes a line. Ctrl-C ends it cleanly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams import contract
from streams.errors import BrokerError, VotewireError
from streams.gateway.embed import call_text, winners_of
from streams.geo.atlas import Atlas, atlas_path
from streams.kafka.clients import kafka_client, require_broker
from streams.settings import Settings

log = logging.getLogger(__name__)
RECONNECT_S = 2.0
TOP_COUNTIES = 3


@dataclass
class ReadoutFilter:
    race: str | None = None
    state: str | None = None
    printed: dict[tuple[str, ...], int] = field(default_factory=dict)  # key -> version printed
    counties: int = TOP_COUNTIES  # how many counties with vote still out to list
    county_names: dict[str, str] = field(default_factory=dict)  # FIPS -> name

    def line_for(self, snapshot: object) -> str | None:
        """The line to print for this snapshot, or None (filtered out, malformed or not newer)."""
        if not isinstance(snapshot, dict) or not isinstance(snapshot.get("version"), int):
            return None
        if self.race and snapshot.get("race_id") != self.race:
            return None
        if self.state and str(snapshot.get("state", "")).upper() != self.state.upper():
            return None
        key = tuple(str(snapshot.get(f)) for f in ("election_id", "race_id", "state", "mode"))
        if self.printed.get(key, -1) >= snapshot["version"]:
            return None
        self.printed[key] = snapshot["version"]
        return format_line(snapshot, self.counties, self.county_names)


def format_line(s: dict[str, Any], counties: int = TOP_COUNTIES, county_names: dict[str, str] | None = None) -> str:
    """The readout line, then the needs line and the counties still out, indented under it."""
    test = " [TEST]" if s.get("mode") == "test" else ""
    where = f"{s.get('election_id')} {s.get('race_id')} {s.get('state')}{test}"
    head = f"{s.get('as_of', '?')}  {where:<32} "
    lines = [head + str(s.get("readout", ""))]
    candidates = [c for c in s.get("candidates") or [] if isinstance(c, dict)]
    call = call_text(s, candidates, winners_of(s))
    if call:
        lines.append(" " * len(head) + ("✓ " if winners_of(s) else "") + call)
    if s.get("needs_readout"):
        lines.append(" " * len(head) + str(s["needs_readout"]))
    still_out = still_out_line(s, counties, county_names or {})
    if still_out:
        lines.append(" " * len(head) + still_out)
    return "\n".join(lines)


def still_out_line(s: dict[str, Any], counties: int, names: dict[str, str]) -> str | None:
    """`Most still out: Ramsey 278,025 (no votes yet) · St. Louis 110,311 (R +9.0)`."""
    rows = s.get("counties_outstanding") or []
    if counties <= 0 or not isinstance(rows, list) or not rows:
        return None
    parties = {c.get("candidate_id"): c.get("party") or c.get("name") for c in s.get("candidates") or []}

    def lead(c: dict[str, Any]) -> str:
        if not c.get("total_votes"):
            return "no votes yet"
        if c.get("leader") is None:
            return "tied"
        return f"{parties.get(c['leader'], c['leader'])} +{c.get('margin_pct', 0):.1f}"

    def name(c: dict[str, Any]) -> str:
        return names.get(str(c.get("county_fips")), str(c.get("county_fips")))

    shown = [f"{name(c)} {c.get('votes_outstanding', 0):,} ({lead(c)})" for c in rows[:counties] if isinstance(c, dict)]
    return "Most still out: " + " · ".join(shown)


def county_names(settings: Settings) -> dict[str, str]:
    """County names from the cached atlas, or none (counties are then shown by FIPS)."""
    path = atlas_path(settings)
    return Atlas.load(path).county_names() if path.exists() else {}


@dataclass
class SseParser:
    """Server-Sent Events, one line at a time (the subset the gateway sends)."""

    last_id: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def feed(self, line: str) -> tuple[str, str] | None:
        """Returns (event, data) when `line` ends an event."""
        line = line.rstrip("\r\n")
        if line:
            if not line.startswith(":"):
                name, _, value = line.partition(":")
                self.fields[name] = value.removeprefix(" ")
            return None
        done, self.fields = self.fields, {}
        if "id" in done:
            self.last_id = done["id"]
        return (done.get("event", "message"), done.get("data", "")) if "data" in done else None


async def snapshots_from_topic(settings: Settings) -> AsyncIterator[object]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError

    from streams.gateway.feed import decode, wait_for_topics

    await require_broker(settings)  # none: one line and exit 1, not a client retrying
    consumer = kafka_client(AIOKafkaConsumer, settings, group_id=None, enable_auto_commit=False,
                            auto_offset_reset="earliest", client_id="votewire-watch")
    try:
        await consumer.start()
        topic = settings.topic(contract.STATE_RESULTS)
        await wait_for_topics(consumer, [topic], settings)
        consumer.subscribe([topic])  # no group: every partition, from the earliest offset
        while True:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    yield decode(record.value, tp.topic, record.offset)
    except KafkaError as e:
        topic = settings.topic(contract.STATE_RESULTS)
        raise BrokerError(f"reading {topic} at {settings.bootstrap} failed ({e})") from e
    finally:
        await consumer.stop()


async def snapshots_from_gateway(url: str) -> AsyncIterator[object]:
    """The gateway's state snapshots, reconnecting for ever once it answered (a gateway that goes
    away is one line when it goes and one when it is back, not one per attempt); one that never
    answered is an error."""
    import aiohttp

    parser, away, answered = SseParser(), False, False
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)  # the gateway pings every 15 s
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            headers = {"Last-Event-ID": parser.last_id} if parser.last_id else {}
            try:
                async with session.get(f"{url.rstrip('/')}/v1/stream?kinds=state", headers=headers) as resp:
                    resp.raise_for_status()
                    answered = True
                    if away:
                        log.warning("gateway stream back at %s", url)
                        away = False
                    async for raw in resp.content:
                        parsed = parser.feed(raw.decode())
                        if parsed and parsed[0] == "state":
                            yield orjson.loads(parsed[1])
            except (aiohttp.ClientError, TimeoutError) as e:
                if not answered:
                    raise VotewireError(f"no gateway stream at {url} ({e or type(e).__name__})") from None
                if not away:
                    log.warning("gateway stream: %s; reconnecting every %.0f s", e or type(e).__name__, RECONNECT_S)
                    away = True
            await asyncio.sleep(RECONNECT_S)


async def watch(source: AsyncIterator[object], readouts: ReadoutFilter, emit: Callable[[str], None]) -> None:
    async for snapshot in source:
        line = readouts.line_for(snapshot)
        if line is not None:
            emit(line)



