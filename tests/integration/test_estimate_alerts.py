"""Alerts about a race's estimate with two workers on the real broker: every worker reads the
whole race book, but only the race's owner says `expected_vote_revised`, once per revision
(streams.worker.estimates)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from streams.kafka.topics import ensure_topics
from streams.settings import Settings
from tests.integration.harness import read_topic, run, send_raw, wait_for
from tests.integration.pipeline import two_ready_workers

RACE_KEY = "2024-11-05/president/MN"
DEFINITION = {"schema": "race-definition/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
              "office": "U.S. President", "precincts_total": 3, "polls_close": "2024-11-06T02:00:00Z",
              "certified": False, "candidates": [{"candidate_id": "harris", "name": "Harris", "party": "DFL"},
                                                 {"candidate_id": "trump", "name": "Trump", "party": "R"}]}


def estimate(votes: int, seq: int) -> bytes:
    return orjson.dumps({"schema": "expected-vote/1", "election_id": "2024-11-05", "race_id": "president",
                         "state": "MN", "expected_votes": votes, "seq": seq, "issued_at": "2024-11-06T04:00:00Z"})


def revisions(settings: Settings) -> list[dict[str, Any]]:
    return [r.value for r in run(read_topic(settings, contract.RESULTS_ALERTS))
            if isinstance(r.value, dict) and r.value.get("type") == "expected_vote_revised"]


def test_two_workers_say_one_expected_vote_revised_per_revision(settings: Settings, tmp_path: Path) -> None:
    run(ensure_topics(settings))
    run(send_raw(settings, contract.RACE_DEFINITIONS, [(RACE_KEY.encode(), orjson.dumps(DEFINITION))]))
    with two_ready_workers(settings, tmp_path) as (a, _):
        for seq, votes in ((1, 3_000_000), (2, 3_250_000)):
            run(send_raw(settings, contract.EXPECTED_VOTES, [(RACE_KEY.encode(), estimate(votes, seq))]))
            wait_for(lambda seq=seq: [r for r in revisions(settings) if r["details"]["seq"] == seq], 60,
                     what=f"revision {seq} said", alive=a)
        time.sleep(5)  # a second worker's alert, if any, would be out by now
    said = revisions(settings)
    assert sorted(r["details"]["seq"] for r in said) == [1, 2], said
