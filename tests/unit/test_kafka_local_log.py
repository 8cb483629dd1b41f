"""What a local broker that died at start says about itself: the line naming the error, not
only the end of its Java stack trace."""

from __future__ import annotations

from pathlib import Path

from streams.localkafka import kafka_local
from streams.settings import Settings


def test_a_start_failure_shows_the_error_line_above_a_long_stack_trace(tmp_path: Path) -> None:
    broker = kafka_local.LocalBroker(Settings(data_dir=str(tmp_path)))
    broker.log_file.parent.mkdir(parents=True, exist_ok=True)
    trace = [f"\tat org.apache.kafka.Frame{i}.run(Frame.java:{i})" for i in range(40)]
    broker.log_file.write_text("\n".join([
        "[2026-12-07 08:00:00,000] INFO starting (kafka.server.KafkaRaftServer)",
        "[2026-12-07 08:00:01,000] ERROR Encountered fatal fault: java.lang.OutOfMemoryError: Java heap space "
        "(org.apache.kafka.server.fault.ProcessTerminatingFaultHandler)", *trace]))
    tail = kafka_local._log_tail(broker).splitlines()
    assert "OutOfMemoryError" in tail[0]
    assert tail[-1] == trace[-1]
    assert len(tail) == 1 + 1 + 15


def test_a_log_whose_error_is_in_its_tail_is_the_tail_alone(tmp_path: Path) -> None:
    broker = kafka_local.LocalBroker(Settings(data_dir=str(tmp_path)))
    broker.log_file.parent.mkdir(parents=True, exist_ok=True)
    broker.log_file.write_text("a INFO b\nc ERROR d\n")
    assert kafka_local._log_tail(broker) == "a INFO b\nc ERROR d"
