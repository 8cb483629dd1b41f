"""faust's own floor: a faust app that does nothing but count the events of a topic.

Raw key and value serializers, the in-memory store, no tables, web off; one agent iterates
`stream.events()` and counts. It is the fastest any faust worker can take records off the
topic, so votewire's worker on the same single-report topic is held against it. It prints one
JSON line when it has counted `--count` records (the topic's end offsets) and exits at once.

    .venv/bin/python bench/peers/faust_floor.py --bootstrap 127.0.0.1:9092 \
        --topic benchabc.precinct-results --count 16432 --data-dir /tmp/floor
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

import faust
import orjson


def main() -> None:
    began = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True, help="the full name of the topic")
    parser.add_argument("--count", type=int, required=True, help="records to count (the end offsets)")
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    app = faust.App(f"bench-floor-{uuid.uuid4().hex[:8]}", broker=f"kafka://{args.bootstrap}", store="memory://",
                    key_serializer="raw", value_serializer="raw", web_enabled=False, datadir=args.data_dir,
                    topic_disable_leader=True, consumer_auto_offset_reset="earliest")
    topic = app.topic(args.topic, key_serializer="raw", value_serializer="raw")

    @app.agent(topic)
    async def count_events(stream: faust.Stream) -> None:
        seen, first = 0, 0.0
        async for _event in stream.events():
            seen += 1
            if seen == 1:
                first = time.perf_counter()
            if seen == args.count:
                done = time.perf_counter()
                # fd 1 itself: mode has replaced sys.stdout with a logging proxy by now.
                os.write(1, orjson.dumps({"records": seen, "seconds": round(done - began, 2),
                                          "seconds_first_to_last": round(done - first, 2)}) + b"\n")
                os._exit(0)  # the figure is taken; a clean faust shutdown is not part of it

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


if __name__ == "__main__":
    main()
