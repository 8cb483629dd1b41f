"""The short form of `make scale` (bench/scale.py --quick): a three-node Kafka cluster of its own,
three workers, a full-ballot night replayed at a steady pace; one broker and one worker are
SIGKILLed and brought back during it; every final snapshot must equal the simulator's truth.
About three minutes on two cores; its own cluster, not the session broker."""

from __future__ import annotations

from pathlib import Path

from bench import scale


def test_a_night_survives_losing_a_broker_and_a_worker(tmp_path: Path) -> None:
    result = scale.quick(tmp_path, preset="full-tiny", replay_s=75.0, partitions=6)
    print(result)  # the measured seconds, shown with -s or on failure
    assert result["mismatches"] == []
    assert result["exact"] is True
    # Each part of the ordeal happened (the seconds themselves are not asserted: load varies).
    for measure in ("broker_answers_after_restart_s", "broker_in_sync_after_restart_s", "rebalance_s",
                    "worker_ready_after_restart_s", "all_ready_after_restart_s"):
        assert measure in result, measure
    assert result["takeover_rebuilds"] >= 1, "the survivors rebuilt the dead worker's partitions"
