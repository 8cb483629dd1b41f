"""State polls: a state's night as `state-poll/1` records, as a feed polled every minute delivers it.

The same windows as race batches (`streams.simulation.packaging`): at each poll the feed hands
over what every unit of the state reported since the last one, every race of the ballot at
once. Every report of the state whose `reported_at` falls in one window goes into one poll,
delivered at the window's end; late reports go in a poll of their own window's late reports,
after that window's on-time poll. Within a poll, races come in ballot order and each race's
reports in the order they arrived; a poll over 1 MiB (or 10,000 reports) is split between
races or within a race's reports. Bytes from templates, like the other packings.

`StatePolls` is one state's packer; `race` gives each race its `Deliveries`. The night's
generator draws what it draws for the other packings, so a seed gives the same night.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import orjson

from streams import contract
from streams.contract.batching import poll_envelope
from streams.contract.validation import MAX_BATCH_REPORTS
from streams.simulation.ballot import Race
from streams.simulation.lines import Lines
from streams.simulation.malformed import ELEMENT_KINDS, KIND_NAMES, POLL_KINDS, RACE_ENTRY_KINDS
from streams.simulation.packaging import Poll, Report, element_template
from streams.simulation.reports import Options

ELEMENT_BREAKERS, RACE_BREAKERS, POLL_BREAKERS = (tuple(ELEMENT_KINDS.values()), tuple(RACE_ENTRY_KINDS.values()),
                                                  tuple(POLL_KINDS.values()))
# A race entry as JSON text: its head (`{"race_id":"x","reports":[`), its elements, its tail.
Entry = tuple[bytes, list[bytes], bytes]


class StatePolls:
    """`state-poll/1` records of one state (and mode), by window (see the module docstring)."""

    def __init__(self, out: Lines, options: Options, postal: str, key: str, rng: random.Random) -> None:
        if options.batch_window_ms is None:
            raise ValueError("StatePolls needs a poll window")
        self.out, self.key, self.window_ms, self.rng = out, key, options.batch_window_ms, rng
        self.envelope = poll_envelope({"election_id": options.election_id, "state": postal, "mode": options.mode})
        empty = orjson.dumps({**self.envelope, "races": []})  # ends `[]}`: race entries go between
        self.room = options.max_batch_bytes - len(empty)
        self.line_head = b',"topic":"%s","key":%s,"value":%s' % (
            contract.PRECINCT_RESULTS.encode(), orjson.dumps(key), empty[:-2])
        self.race_ids: list[str] = []
        # poll -> (race's place on the ballot, arrived at, element text)
        self.polls: defaultdict[Poll, list[tuple[int, int, bytes]]] = defaultdict(list)
        self.broken_entries: defaultdict[Poll, list[bytes]] = defaultdict(list)  # bad race entries, in their poll
        self.broken: dict[Poll, list[str]] = {}  # malformed whole polls, sent with that poll

    def race(self, race: Race) -> RacePolls:
        self.race_ids.append(race.race_id)
        return RacePolls(self, len(self.race_ids) - 1, element_template(race))

    def poll_of(self, at: int, reported_ms: int) -> Poll:
        return at // self.window_ms, reported_ms // self.window_ms

    def delivered_at(self, arrived_ms: int) -> int:
        """A report is on the topic at the end of the window it arrived in: the next poll."""
        return (arrived_ms // self.window_ms + 1) * self.window_ms

    def finish(self) -> None:
        """Writes the polls: by poll, each window's on-time poll first, then its late ones; `ts`
        is the window's end (the poll that picks it up), as for race batches."""
        out, window_ms, head = self.out, self.window_ms, self.line_head
        every = self.polls.keys() | self.broken_entries.keys() | self.broken.keys()
        for poll in sorted(every, key=lambda p: (p[0], p[0] - p[1])):
            ts = (poll[0] + 1) * window_ms
            entries = self.entries(poll)
            for body in split_poll(entries, self.room):
                out.add_line(ts, b'{"ts":%d%s%s]}}\n' % (ts, head, b",".join(body)))
            broken = self.broken.get(poll, ())
            for payload in broken:
                out.add_payload(ts, contract.PRECINCT_RESULTS, self.key, payload)
            out.report_count += sum(len(elements) for _, elements, _ in entries) + len(broken)

    def entries(self, poll: Poll) -> list[Entry]:
        """The poll's race entries: ballot order, each race's elements by arrival, then the broken ones."""
        arrived = self.polls.get(poll, [])
        arrived.sort(key=by_arrival_in_race)
        entries: list[Entry] = []
        for index, _, text in arrived:
            head = b'{"race_id":%s,"reports":[' % orjson.dumps(self.race_ids[index])
            if entries and entries[-1][0] == head:
                entries[-1][1].append(text)
            else:
                entries.append((head, [text], b"]}"))
        return entries + [(b"", [text], b"") for text in self.broken_entries.get(poll, ())]


def by_arrival_in_race(element: tuple[int, int, bytes]) -> tuple[int, int]:
    return element[0], element[1]


class RacePolls:
    """One race's `Deliveries` into its state's polls."""

    def __init__(self, polls: StatePolls, index: int, template: bytes) -> None:
        self.polls, self.index, self.template = polls, index, template

    def deliver(self, at: int, reported_ms: int, report: Report) -> None:
        self.polls.polls[self.polls.poll_of(at, reported_ms)].append((self.index, at, self.template % report))

    def deliver_malformed(self, at: int, reported_ms: int, report: Report, rng: random.Random) -> None:
        """A broken copy of `report` (just delivered): an element, a race entry, or a poll alone."""
        rng.randrange(len(KIND_NAMES))  # the night's generator draws as for --single: the same night follows
        polls = self.polls
        kind = polls.rng.randrange(len(ELEMENT_BREAKERS) + len(RACE_BREAKERS) + len(POLL_BREAKERS))
        element = orjson.loads(self.template % report)
        race: dict[str, Any] = {"race_id": polls.race_ids[self.index], "reports": [element]}
        poll = polls.poll_of(at, reported_ms)
        if kind < len(ELEMENT_BREAKERS):
            text = ELEMENT_BREAKERS[kind](element, {**polls.envelope, "race_id": race["race_id"]})
            polls.polls[poll].append((self.index, at, text.encode()))
            polls.out.malformed_count += 1
        elif kind < len(ELEMENT_BREAKERS) + len(RACE_BREAKERS):
            polls.broken_entries[poll].append(RACE_BREAKERS[kind - len(ELEMENT_BREAKERS)](race).encode())
            polls.out.malformed_count += 1
        else:
            breaker = POLL_BREAKERS[kind - len(ELEMENT_BREAKERS) - len(RACE_BREAKERS)]
            polls.broken.setdefault(poll, []).append(breaker({**polls.envelope, "races": [race]}))

    def delivered_at(self, arrived_ms: int) -> int:
        return self.polls.delivered_at(arrived_ms)

    def finish(self) -> None:
        """Nothing: the state's polls are written once every race is in (`StatePolls.finish`)."""


def split_poll(entries: list[Entry], room: int) -> Iterator[list[bytes]]:
    """The race entries as consecutive poll bodies, in order, each taking at most `room` bytes as a
    JSON list body and holding at most `MAX_BATCH_REPORTS` elements: split between entries, or
    within an entry's elements (each part under the race's own head).
    `streams.contract.batching.poll_records` does the same for dicts."""
    body: list[bytes] = []
    size, count = -1, 0  # -1: no comma before the first entry
    for head, elements, tail in entries:
        start = 0
        while start < len(elements):
            free = room - size - 1 - len(head) - len(tail)
            taken = _fitting(elements, start, free, MAX_BATCH_REPORTS - count)
            if not taken:
                if not body:
                    raise ValueError(f"a poll element of {len(elements[start])} bytes does not fit a poll "
                                     f"({room} bytes of room)")
                yield body
                body, size, count = [], -1, 0
                continue
            body.append(head + b",".join(elements[start:start + taken]) + tail)
            size, count, start = size + 1 + len(body[-1]), count + taken, start + taken
    if body:
        yield body


def _fitting(elements: list[bytes], start: int, free: int, most: int) -> int:
    """How many of `elements` from `start` fit in `free` bytes (with commas between), at most `most`."""
    taken, used = 0, -1
    for element in elements[start:start + most]:
        used += len(element) + 1
        if used > free:
            break
        taken += 1
    return taken

