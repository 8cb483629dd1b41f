"""How a race's precinct reports become records on their own: one report per record
(`--single`), or `precinct-batch/1` records as a feed polled every minute delivers them
(`--per-race`). The default, a state's every race in `state-poll/1` records, is
`streams.simulation.polls`, on the same windows and element templates.

A feed polled every `batch_window_ms` hands over, at each poll, what its units reported since
the last one: every report of one race and state (and mode) whose `reported_at` falls in one
window goes into one batch, delivered at the window's end. A report that is delivered late (a
re-send, or one held up until after a newer report) cannot ride in its window's batch, which
is gone by then: it goes in a batch of its own window's late reports, delivered at the end of
the window it arrives in, after that window's on-time batch. So every batch holds the reports
of one window, and a late batch is out of order between batches, as a late report was. Within
a batch, reports are listed in the order they arrived (a batch is applied in list order).

Both packers are fed the same reports in the same order and leave the night's generator alone
(the batches draw from their own), so a seed gives the same night whichever packs it: only the
records differ, never the truth. Batches are written as bytes from templates, like single
reports: about a million elements for the us preset.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any

import orjson

from streams import contract
from streams.contract.batching import batch_envelope
from streams.simulation.ballot import Race
from streams.simulation.lines import SERIAL_BITS, Lines
from streams.simulation.malformed import BATCH_KINDS, ELEMENT_KINDS, KIND_NAMES, malformed_payload
from streams.simulation.reports import Deliveries, Options

Report = tuple[Any, ...]  # a report's fields in template order: FIPS, precinct, seq, time, votes..., complete
ELEMENT_BREAKERS, BATCH_BREAKERS = tuple(ELEMENT_KINDS.values()), tuple(BATCH_KINDS.values())


def report_template(options: Options, race: Race, key: str) -> bytes:
    """The recording line of a precinct report with %-holes: ts, FIPS, precinct, seq, time,
    each candidate's votes, complete. Exactly the bytes orjson writes for the same dict (the
    tests check), at a fraction of the cost of building and dumping a dict per record."""
    votes = ",".join(f'"{c.candidate_id}":%d' for c in race.candidates)
    return ('{"ts":%d,"topic":"' + contract.PRECINCT_RESULTS + '","key":"' + key + '","value":{'
            '"schema":"precinct-result/1","election_id":"' + options.election_id + '","race_id":"'
            + race.race_id + '","state":"' + race.state.postal + '","county_fips":"%s","precinct_id":"%s",'
            '"seq":%d,"reported_at":"%s","votes":{' + votes + '},"complete":%s,"mode":"'
            + options.mode + '"}}\n').encode()


def element_template(race: Race) -> bytes:
    """A batch element with %-holes, the same fields as `report_template` but the timestamp:
    the unit fields, without what the batch states once."""
    votes = ",".join(f'"{c.candidate_id}":%d' for c in race.candidates)
    return ('{"county_fips":"%s","precinct_id":"%s","seq":%d,"reported_at":"%s","votes":{' + votes
            + '},"complete":%s}').encode()


class SingleReports:
    """One `precinct-result/1` record per report, at the time it arrives (`--single`)."""

    def __init__(self, out: Lines, options: Options, race: Race, key: str) -> None:
        self.out, self.key, self.template = out, key, report_template(options, race, key)
        self.first_line = len(out)

    # `reported_ms` is not needed: a single record goes when it arrives.
    def deliver(self, at: int, reported_ms: int, report: Report) -> None:
        lines = self.out.lines
        self.out.keys.append((at - self.out.base_ms) << SERIAL_BITS | len(lines))
        lines.append(self.template % (at, *report))

    def deliver_malformed(self, at: int, reported_ms: int, report: Report, rng: random.Random) -> None:
        value = orjson.loads(self.template % (at, *report))["value"]
        self.out.add_payload(at + 1, contract.PRECINCT_RESULTS, self.key, malformed_payload(rng, value))

    def delivered_at(self, arrived_ms: int) -> int:
        return arrived_ms

    def finish(self) -> None:
        self.out.report_count += len(self.out) - self.first_line


Poll = tuple[int, int]  # (window it arrived in, window of its reported_at), in window numbers
Element = tuple[int, bytes]  # (arrived at, JSON text)
by_arrival = itemgetter(0)  # a stable sort by it keeps the order made for the same time


class WindowBatches:
    """`precinct-batch/1` records: a race's reports by window of `reported_at`, late ones apart
    (see the module docstring), split to stay within `options.max_batch_bytes`."""

    def __init__(self, out: Lines, options: Options, race: Race, key: str, rng: random.Random) -> None:
        if options.batch_window_ms is None:
            raise ValueError("WindowBatches needs a batch window")
        self.out, self.key, self.window_ms, self.rng = out, key, options.batch_window_ms, rng
        self.envelope = batch_envelope({"election_id": options.election_id, "race_id": race.race_id,
                                        "state": race.state.postal, "mode": options.mode})
        empty = orjson.dumps({**self.envelope, "reports": []})  # ends `[]}`: elements go between
        self.room = options.max_batch_bytes - len(empty)  # for the elements and the commas between
        self.line_head = b',"topic":"%s","key":%s,"value":%s' % (
            contract.PRECINCT_RESULTS.encode(), orjson.dumps(key), empty[:-2])
        self.template = element_template(race)
        self.polls: defaultdict[Poll, list[Element]] = defaultdict(list)
        self.broken: dict[Poll, list[str]] = {}  # malformed whole batches, sent with that poll's batches

    def deliver(self, at: int, reported_ms: int, report: Report) -> None:
        window_ms = self.window_ms
        self.polls[at // window_ms, reported_ms // window_ms].append((at, self.template % report))

    def deliver_malformed(self, at: int, reported_ms: int, report: Report, rng: random.Random) -> None:
        """A broken copy of `report` (just delivered): an element of its batch, or a batch alone."""
        rng.randrange(len(KIND_NAMES))  # the night's generator draws as for --single: the same night follows
        kind = self.rng.randrange(len(ELEMENT_BREAKERS) + len(BATCH_BREAKERS))
        element = orjson.loads(self.template % report)
        poll = (at // self.window_ms, reported_ms // self.window_ms)
        if kind < len(ELEMENT_BREAKERS):
            text = ELEMENT_BREAKERS[kind](element, self.envelope)
            self.polls[poll].append((at, text.encode()))
            self.out.malformed_count += 1
        else:
            broken = BATCH_BREAKERS[kind - len(ELEMENT_BREAKERS)]({**self.envelope, "reports": [element]})
            self.broken.setdefault(poll, []).append(broken)

    def delivered_at(self, arrived_ms: int) -> int:
        """A report is on the topic at the end of the window it arrived in: the next poll."""
        return (arrived_ms // self.window_ms + 1) * self.window_ms

    def finish(self) -> None:
        """Writes the batches: by poll, each poll's on-time batch first, then its late ones.

        A batch's `ts` is its window's end, the poll that picks it up, not its latest report's
        time: a feed polled every minute cannot deliver sooner, so a replay keeps that rhythm
        (and the time does not depend on what the batch happens to hold).
        """
        out, key, window_ms, head, room = self.out, self.key, self.window_ms, self.line_head, self.room
        for poll in sorted(self.polls, key=lambda p: (p[0], p[0] - p[1])):
            ts = (poll[0] + 1) * window_ms
            arrived = self.polls[poll]
            arrived.sort(key=by_arrival)
            elements = [text for _, text in arrived]
            for chunk in split_by_size(elements, room):
                out.add_line(ts, b'{"ts":%d%s%s]}}\n' % (ts, head, b",".join(chunk)))
            broken = self.broken.get(poll, ())
            for payload in broken:
                out.add_payload(ts, contract.PRECINCT_RESULTS, key, payload)
            out.report_count += len(elements) + len(broken)


def split_by_size(elements: Sequence[bytes], room: int) -> Iterator[Sequence[bytes]]:
    """Consecutive runs of `elements`, in order, each taking at most `room` bytes as a JSON list
    body (the elements and the commas between them). `streams.contract.batching.batch_records` does the
    same for dicts; the simulator's elements are bytes already."""
    if sum(map(len, elements)) + len(elements) - 1 <= room:  # nearly always: a minute is far under 1 MiB
        yield elements
        return
    start, size = 0, -1
    for i, element in enumerate(elements):
        size += len(element) + 1
        if size > room and i > start:
            yield elements[start:i]
            start, size = i, len(element)
        if size > room:
            raise ValueError(f"a batch element of {len(element)} bytes does not fit a batch ({room} bytes of room)")
    yield elements[start:]


def deliveries_for(out: Lines, options: Options, race: Race, key: str, rng: random.Random) -> Deliveries:
    """The packer `options` ask for: `rng` is the batches' own generator (not the night's)."""
    if options.batch_window_ms is None:
        return SingleReports(out, options, race, key)
    return WindowBatches(out, options, race, key, rng)
