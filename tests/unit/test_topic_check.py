"""What a worker checks of its topics at start: every way one differs from what the tallies rest
on is one line, and topics created by `votewire topics create` have none."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from streams.kafka.topics import CONTRACT_TOPICS, TopicFacts, TopicSpec, settled_facts, topic_configs, topic_problems

LOG = TopicSpec("precinct-results", compact=False, log=True)
BOOK = TopicSpec("race-definitions", compact=True)
ALERTS = TopicSpec("results-alerts", compact=False)
KEPT = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


def test_the_topics_votewire_creates_have_no_problem() -> None:
    for spec in CONTRACT_TOPICS:
        assert topic_problems(spec, TopicFacts(4, topic_configs(spec)), 4) == [], spec.name


@pytest.mark.parametrize(("spec", "facts", "line"), [
    (LOG, TopicFacts(4, {**KEPT, "retention.ms": "604800000"}),
     "topic precinct-results has retention.ms=604800000: the worker rebuilds its tallies from this log, so it "
     "must keep every record (retention.ms=-1)"),
    (LOG, TopicFacts(4, {**KEPT, "retention.bytes": "1073741824"}), "retention.bytes=1073741824"),
    (LOG, TopicFacts(6, KEPT), "topic precinct-results has 6 partitions but VOTEWIRE_PARTITIONS=4"),
    (LOG, TopicFacts(4, {**KEPT, "cleanup.policy": "compact"}), "cleanup.policy=compact: compaction would keep"),
    (BOOK, TopicFacts(4, {"cleanup.policy": "delete"}), "topic race-definitions has cleanup.policy=delete, not "
                                                         "compact"),
    (BOOK, TopicFacts(4, {"cleanup.policy": "compact,delete"}), "cleanup.policy=compact,delete, not compact"),
    (ALERTS, TopicFacts(4, {"cleanup.policy": "compact"}), "topic results-alerts has cleanup.policy=compact"),
    (BOOK, TopicFacts(None, None), "topic race-definitions does not exist: create it with `votewire topics create`"),
    (BOOK, TopicFacts(None, None, hidden=True), "topic race-definitions cannot be described by this user"),
    (BOOK, TopicFacts(4, None), "the configuration of topic race-definitions cannot be read: grant this user "
                                "DESCRIBE_CONFIGS on it"),
])
def test_each_problem_is_one_line(spec: TopicSpec, facts: TopicFacts, line: str) -> None:
    [problem] = topic_problems(spec, facts, 4)
    assert line in problem
    assert "\n" not in problem


def test_a_topic_with_several_problems_gets_a_line_for_each() -> None:
    facts = TopicFacts(8, {"cleanup.policy": "delete", "retention.ms": "86400000", "retention.bytes": "10"})
    assert len(topic_problems(LOG, facts, 4)) == 3


def test_the_partition_count_matters_only_where_races_have_a_home() -> None:
    assert topic_problems(ALERTS, TopicFacts(12, {"cleanup.policy": "delete", "retention.ms": "1"}), 4) == []
    assert topic_problems(BOOK, TopicFacts(1, {"cleanup.policy": "compact"}), 4) == []


def answers(*replies: dict[str, TopicFacts]) -> tuple[list[int], Callable[[], Awaitable[dict[str, TopicFacts]]]]:
    """A broker that gives `replies` in turn (the last one from then on); counts the asks."""
    asked = [0]

    async def fetch() -> dict[str, TopicFacts]:
        asked[0] += 1
        return replies[min(asked[0], len(replies)) - 1]

    return asked, fetch


FINE = TopicFacts(4, KEPT)


@pytest.mark.parametrize("not_yet", [TopicFacts(None, None), TopicFacts(4, None)], ids=["unknown", "no-configs"])
def test_a_topic_another_broker_just_created_is_asked_for_again_until_this_one_knows_it(not_yet: TopicFacts) -> None:
    # Three workers started together on a three-broker cluster: one creates the re-key topic,
    # another asks a broker that has not heard of it yet; that worker must not refuse to start.
    asked, fetch = answers({"a": FINE, "b": not_yet}, {"a": FINE, "b": not_yet}, {"a": FINE, "b": FINE})
    facts = asyncio.run(settled_facts(fetch, settle_s=5, every_s=0.01))
    assert facts == {"a": FINE, "b": FINE}
    assert asked == [3]


def test_a_topic_still_missing_after_the_wait_is_reported_and_a_hidden_one_is_not_waited_for() -> None:
    asked, fetch = answers({"a": TopicFacts(None, None)})
    assert asyncio.run(settled_facts(fetch, settle_s=0.05, every_s=0.01)) == {"a": TopicFacts(None, None)}
    assert asked[0] > 1
    asked, fetch = answers({"a": TopicFacts(None, None, hidden=True)})
    asyncio.run(settled_facts(fetch, settle_s=5, every_s=0.01))
    assert asked == [1]
