"""One simulated night for the fault scenarios: made, mixed, salted with bad records, paced.

The night is the simulator's `small` preset for a seed, made as state polls, as race batches
(`--per-race`) and `--single`; the mix takes some states' reports as polls, some as batches
and the others' as single reports (the same night each way: the truth file does not depend on
the packing). Then a few malformed records, a batch of malformed elements and a poll with a
malformed race entry and malformed elements go in at seeded places: the dead letters the
worker must make are exactly those. The replay is paced so that it lasts about `seconds`.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from faults.oracle import Reference
from streams.kafka.replay import wait_seconds

PRESET = "small"
POLLED_STATES = ("CA", "PA")  # state-poll/1
BATCHED_STATES = ("MI", "NV")  # precinct-batch/1; the others (AZ, GA, WI) send single reports
MAX_GAP_S = 0.25

GOOD = {"schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": "president", "state": "AZ",
        "county_fips": "04013", "precinct_id": "fault-probe", "seq": 1, "reported_at": "2024-11-06T05:00:00Z",
        "votes": {"harris": 1}, "complete": False}
# Whole records the contract refuses (docs/CONTRACT.md, "Input messages"): one dead letter each.
BAD_RECORDS = [
    b"not json at all",
    b"[1, 2, 3]",
    orjson.dumps({**GOOD, "votes": {"harris": -5}}),
    orjson.dumps({**GOOD, "mode": "rehearsal"}),
    orjson.dumps({k: v for k, v in GOOD.items() if k != "seq"}),
    orjson.dumps({**GOOD, "schema": "precinct-batch/1", "reports": []}),
]
# A valid batch whose every element is refused: one dead letter per element.
BAD_ELEMENTS = [{**GOOD, "votes": {"harris": 1.5}}, "not an object", {**GOOD, "state": "CA"},
                {k: v for k, v in GOOD.items() if k != "votes"}]
BAD_BATCH = {"schema": "precinct-batch/1", "election_id": "2024-11-05", "race_id": "president", "state": "AZ",
             "reports": [{k: v for k, v in e.items() if k not in ("schema", "election_id", "race_id")}
                         if isinstance(e, dict) else e for e in BAD_ELEMENTS]}
# A valid poll with a race entry refused whole and the batch's elements refused one by one.
BAD_POLL = {"schema": "state-poll/1", "election_id": "2024-11-05", "state": "AZ",
            "races": [{"race_id": "", "reports": BAD_BATCH["reports"][:1]},
                      {"race_id": "president", "reports": BAD_BATCH["reports"]}]}
INJECTED_DEAD_LETTERS = len(BAD_RECORDS) + len(BAD_ELEMENTS) + 1 + len(BAD_ELEMENTS)


@dataclass(frozen=True)
class Night:
    recording: Path  # mixed, with the malformed records: what is replayed
    reference: Reference
    records: int
    speed: float

    def replay_args(self) -> list[str]:
        return [sys.executable, "-m", "streams.cli", "replay", "--speed", f"{self.speed:.1f}",
                "--max-gap", str(MAX_GAP_S), "--no-progress", str(self.recording)]


def make_night(seed: int, folder: Path, seconds: float) -> Night:
    folder.mkdir(parents=True, exist_ok=True)
    polled, batched, single = folder / "polled.jsonl", folder / "batched.jsonl", folder / "single.jsonl"
    for out, extra in ((polled, []), (batched, ["--per-race"]), (single, ["--single"])):
        if not out.exists():
            subprocess.run([sys.executable, "-m", "streams.cli", "simulate", "--preset", PRESET, "--seed", str(seed),
                            "--jobs", "1", "--out", str(out), *extra], check=True, capture_output=True)
    clean = mix(_lines(polled), _lines(batched), _lines(single))
    clean_path = folder / "mixed-clean.jsonl"
    clean_path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in clean))
    salted = salt(clean, random.Random(seed))
    recording = folder / "night.jsonl"
    recording.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in salted))
    reference = Reference.build(Path(f"{polled}.truth.json"), clean_path, INJECTED_DEAD_LETTERS)
    return Night(recording, reference, len(salted), pace(salted, seconds))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _state_of(line: dict[str, Any]) -> str:
    return str(line["key"]).rsplit("/", 1)[-1]  # precinct results are keyed {election_id}/{state}


def mix(polled: list[dict[str, Any]], batched: list[dict[str, Any]],
        single: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Definitions and estimates from the polled file; each state's reports from one file."""
    def reports(lines: list[dict[str, Any]], states: Callable[[str], bool]) -> list[dict[str, Any]]:
        return [line for line in lines if line["topic"] == "precinct-results" and states(_state_of(line))]

    others = [line for line in polled if line["topic"] != "precinct-results"]
    chosen = (reports(polled, lambda s: s in POLLED_STATES) + reports(batched, lambda s: s in BATCHED_STATES)
              + reports(single, lambda s: s not in POLLED_STATES + BATCHED_STATES))
    return sorted(others + chosen, key=lambda line: line["ts"])  # stable: file order within a ts


def salt(lines: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """The night with the malformed records inserted at seeded places (after the definitions)."""
    out = list(lines)
    bad = [{"payload": raw.decode()} for raw in BAD_RECORDS] + [{"value": BAD_BATCH}, {"value": BAD_POLL}]
    for extra in bad:
        at = rng.randrange(len(out) // 10, len(out))
        out.insert(at, {"ts": out[at - 1]["ts"], "topic": "precinct-results", "key": "2024-11-05/AZ", **extra})
    return out


def pace(lines: list[dict[str, Any]], seconds: float) -> float:
    """The replay speed that makes the night last about `seconds` with gaps capped at MAX_GAP_S."""
    gaps = [b["ts"] - a["ts"] for a, b in itertools.pairwise(lines)]
    low, high = 1.0, 1e9
    for _ in range(60):
        mid = (low * high) ** 0.5
        if sum(wait_seconds(g, mid, MAX_GAP_S) for g in gaps) > seconds:
            low = mid
        else:
            high = mid
    return high
