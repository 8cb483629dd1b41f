"""Logs that stay readable while the broker is away.

aiokafka logs every failed retry: a 10-second broker outage made a worker write thousands of
ERROR lines ("Unable connect to node", "Unable to update metadata", "Failed fetch messages",
...), burying whatever else happened. `ConnectionErrorCollapser`, a filter on the log
handlers of the long-running commands (`votewire worker`, `votewire gateway`), lets the first
connection error of an outage through, reworded to say the broker is away, drops the rest,
and logs one line when no connection error has come for `quiet_s`: the broker is back, after
how long and how many retried errors. Other aiokafka warnings and errors pass, but one that
repeats the one before it word for word within `quiet_s` is dropped (aiokafka logs "OffsetCommit
failed ... will rejoin" once per pending commit when the group forgot the member, three in the
same millisecond), and so is asyncio's report of an aiokafka future that failed unawaited
(`is_aiokafka_leftover`), and faust's warning for every send that failed (the worker's outbox
sends it again and logs the outage once, streams.worker.outbox). Everything else passes untouched.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable

from aiokafka.errors import KafkaConnectionError, NodeNotReadyError

# aiokafka's messages for a broker it cannot reach, or that has just come back and is still
# electing leaders and loading its group coordinator.
CONNECTION_ERRORS = (
    "Unable connect to node", "Unable to update metadata", "Failed fetch messages", "Got error produce response",
    "Group Coordinator Request failed", "Marking the coordinator dead", "Heartbeat failed", "Heartbeat session expired",
    "Error sending", "coordinator dead", "Connect call failed", "KafkaConnectionError", "NodeNotReadyError",
    "RequestTimedOutError", "CoordinatorNotAvailable", "NotCoordinator", "LeaderNotAvailable",
    "NotLeaderForPartition", "Connection at",
)
# The exceptions of a connection that failed or closed (aiokafka wraps them in its own errors).
CONNECTION_EXCEPTIONS = (KafkaConnectionError, NodeNotReadyError, ConnectionError, asyncio.IncompleteReadError)
QUIET_S = 3.0
DECIDED = "votewire_connection_log_kept"
OUTAGE_MARK = "votewire_broker_outage"
OUTAGE = {OUTAGE_MARK: True}  # `log.warning(..., extra=OUTAGE)`: collapsed like aiokafka's own

log = logging.getLogger(__name__)


def is_connection_error(record: logging.LogRecord) -> bool:
    """An aiokafka complaint about a broker it cannot reach: by its words, or by the exception
    it carries (aiokafka's transactional sender logs "Unexpected error in sender routine" for a
    lost connection). Or a line of ours that says it is one (`extra=OUTAGE`: the gateway's feed
    restarting its consumer); our other lines are our own business."""
    if getattr(record, OUTAGE_MARK, False):
        return True
    if not _aiokafka_warning(record):
        return False
    text = record.getMessage()
    return (any(pattern in text for pattern in CONNECTION_ERRORS)
            or any(isinstance(exc, CONNECTION_EXCEPTIONS) for exc in _chain(record)))


def is_aiokafka_leftover(record: logging.LogRecord) -> bool:
    """asyncio reporting, when it is collected, a future nobody awaited that failed with an
    aiokafka error or a lost connection: a producer's internal batch future or a connection's
    read task, whose error the code concerned has had already (a fenced snapshot producer's
    ProducerFenced, streams.worker.publisher; an outage, already logged). It comes whenever the
    garbage collector gets to it, seconds after the outage is over: it must not start another."""
    return (record.name == "asyncio" and record.getMessage().startswith("Future exception was never retrieved")
            and any(type(exc).__module__.startswith("aiokafka") or isinstance(exc, CONNECTION_EXCEPTIONS)
                    for exc in _chain(record)))


def is_faust_send_warning(record: logging.LogRecord) -> bool:
    """faust's warning for a send that failed, one per attempt: the outbox says it once."""
    return record.name == "faust.topics" and record.getMessage().startswith("_on_published error")


def _aiokafka_warning(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING and record.name.startswith("aiokafka")


def _chain(record: logging.LogRecord) -> list[BaseException]:
    """The exception a record carries (logged with exc_info), its causes and contexts."""
    exc = record.exc_info[1] if record.exc_info else None
    found: list[BaseException] = []
    while exc is not None and exc not in found and len(found) < 10:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__
    return found


class ConnectionErrorCollapser(logging.Filter):
    """One line when the broker goes away, one when it is back (see the module's doc)."""

    def __init__(self, quiet_s: float = QUIET_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.quiet_s = quiet_s
        self.clock = clock
        self.lost_at: float | None = None
        self.last_error_at = 0.0
        self.retries = 0  # connection errors since the outage began, the first one included
        self.last_other: tuple[str, float] = ("", 0.0)  # the last other aiokafka warning let through, and when
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        # One decision per record, however many handlers carry this filter: kept on the record.
        decided = getattr(record, DECIDED, None)
        if decided is not None:
            return bool(decided)
        with self._lock:
            keep = self._decide(record)
        setattr(record, DECIDED, keep)
        return keep

    def _decide(self, record: logging.LogRecord) -> bool:
        if is_aiokafka_leftover(record) or is_faust_send_warning(record):
            return False
        if not is_connection_error(record):
            return not self._repeated(record)
        now = self.clock()
        self.last_error_at = now
        self.retries += 1
        if self.lost_at is not None:
            return False
        self.lost_at = now
        original = record.getMessage()
        record.msg = "broker connection lost: %s (retrying; further connection errors are counted, not logged)"
        record.args = (original,)
        record.exc_info, record.exc_text = None, None  # one line: the words say it, no traceback
        return True

    def _repeated(self, record: logging.LogRecord) -> bool:
        if not _aiokafka_warning(record):
            return False
        text, now = record.getMessage(), self.clock()
        repeated = text == self.last_other[0] and now - self.last_other[1] < self.quiet_s
        self.last_other = (text, now)
        return repeated

    def recovered(self) -> str | None:
        """The line to log when the outage is over (no connection error for `quiet_s`), else None."""
        with self._lock:
            if self.lost_at is None or self.clock() - self.last_error_at < self.quiet_s:
                return None
            line = (f"broker connection back: {self.retries} connection errors over "
                    f"{self.last_error_at - self.lost_at:.1f} s, {self.retries - 1} of them not logged")
            self.lost_at, self.retries = None, 0
            return line


_installed: ConnectionErrorCollapser | None = None


def collapse_connection_errors(handlers: Iterable[logging.Handler] | None = None) -> ConnectionErrorCollapser:
    """Put one collapser on `handlers` (default: the root logger's), and start the thread that
    logs the broker's return. Idempotent: a handler gets it once; the thread starts once."""
    global _installed
    if _installed is None:
        _installed = ConnectionErrorCollapser()
        threading.Thread(target=_watch, args=(_installed,), name="connection-log", daemon=True).start()
    for handler in logging.getLogger().handlers if handlers is None else handlers:
        if _installed not in handler.filters:
            handler.addFilter(_installed)
    return _installed


def _watch(collapser: ConnectionErrorCollapser) -> None:
    while True:
        time.sleep(0.5)
        line = collapser.recovered()
        if line is not None:
            log.warning(line)
