"""A rebalance on the SASL_SSL broker rebuilds only the partitions that moved.

At every rebalance a worker asks the group's committed offsets of the partitions it keeps
(streams.worker.agents, `moved_on`): past what it applied, another member counted them
meanwhile and they are rebuilt. That read must log in like every other client; a client
built without the security settings cannot reach a SASL_SSL listener, and every kept
partition was then rebuilt at every rebalance, on every worker.
"""

from __future__ import annotations

import re
from pathlib import Path

from streams.settings import Settings
from tests.integration.harness import running_worker, wait_for
from tests.integration.pipeline import print_log_tails
from tests.integration.secure import SecureKafka
from tests.integration.test_security import namespace, security_env

__all__ = ["namespace"]  # the fixture, shared with test_security

REBUILT = re.compile(r"rebuilt the tallies of partitions \[([0-9, ]*)\]")


def rebuilds(log: Path) -> list[list[int]]:
    """The partitions of each rebuild the worker logged, in order."""
    found = REBUILT.findall(log.read_text(errors="replace")) if log.exists() else []
    return [[int(p) for p in partitions.split(", ") if p] for partitions in found]


def test_a_member_joining_and_leaving_rebuilds_only_what_moved(secure_kafka: SecureKafka, namespace: Settings,
                                                              tmp_path: Path) -> None:
    login = security_env(secure_kafka, namespace, "worker", tmp_path)
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    try:
        with running_worker(namespace, first, **login) as worker:
            wait_for(lambda: rebuilds(first) == [[0, 1]], 120, every_s=0.5, what="both partitions rebuilt",
                     alive=worker)
            joining = namespace.with_(data_dir=str(tmp_path / "second-data"))
            with running_worker(joining, second, **login) as member:
                [moved] = wait_for(lambda: rebuilds(second), 120, every_s=0.5, what="a partition for the second",
                                   alive=member)
            # The second member left (SIGTERM): its partition comes back to the first.
            wait_for(lambda: len(rebuilds(first)) >= 2, 120, every_s=0.5, what="the partition back", alive=worker)
    except BaseException:
        print_log_tails(first, second)
        raise
    assert len(moved) == 1
    assert rebuilds(first) == [[0, 1], moved], "a kept partition was rebuilt"
    assert "could not read the committed offsets" not in first.read_text(errors="replace")
