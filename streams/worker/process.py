"""The worker process: faust's Worker running a `TallyWorker` until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
from pathlib import Path

import faust
from prometheus_client import REGISTRY

from streams.kafka.connection_log import collapse_connection_errors
from streams.settings import Settings
from streams.worker.agents import TallyWorker


def start_worker(settings: Settings) -> int:
    class Worker(faust.Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            collapse_connection_errors(logger.handlers)  # one line per broker outage, not one per retry

    (Path(settings.data_dir) / "worker").mkdir(parents=True, exist_ok=True)
    tally = TallyWorker(settings, REGISTRY)
    print(f"votewire worker: {settings.bootstrap}, topics prefix {settings.topic_prefix!r}, "
          f"metrics on http://{settings.worker_web_addr}/metrics", flush=True)
    worker = Worker(tally.app, loglevel=settings.log_level, quiet=True)
    try:
        worker.execute_from_commandline()
    except SystemExit as done:  # faust's worker always exits through SystemExit
        return int(done.code or 0)
    return 0
