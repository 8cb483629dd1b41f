"""What a py-spy profile of the worker says, as text: where the samples go.

    .venv/bin/python bench/profile_summary.py bench/profiles/NAME.json [--top 25]

Reads py-spy's speedscope JSON (`-f speedscope`) or its raw collapsed stacks (`-f raw`,
one `frame;frame;... count` per line) and prints the seconds sampled per thread, then, for
the busiest thread (or `--thread NAME`):
- the share of samples by area (votewire's own code, faust and mode, aiokafka, asyncio, the
  rest), attributed by the innermost frame (self time);
- the functions with the most samples on the stack (inclusive) and the most self time.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

AREAS = (("streams/", "votewire"), ("faust/", "faust"), ("mode/", "faust"), ("aiokafka/", "aiokafka"),
         ("kafka/", "aiokafka"), ("asyncio/", "asyncio"), ("orjson", "votewire"), ("prometheus_client/", "metrics"))


def threads(path: Path) -> list[tuple[str, float]]:
    """(thread, seconds sampled) of a speedscope file, busiest first."""
    if path.suffix != ".json":
        return []
    profiles = json.loads(path.read_text())["profiles"]
    return sorted(((p["name"], sum(p["weights"])) for p in profiles), key=lambda t: -t[1])


def stacks(path: Path, thread: str | None = None) -> Iterator[tuple[list[str], float]]:
    """(frames outermost first, weight) for each sample of the busiest thread (or of `thread`,
    a part of its name). Speedscope weights are seconds; raw stacks count samples."""
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        names = [f"{f['name']} ({f.get('file', '?')}:{f.get('line', '?')})" for f in data["shared"]["frames"]]
        candidates = [p for p in data["profiles"] if thread is None or thread in p["name"]]
        profile = max(candidates, key=lambda p: sum(p["weights"]))
        for sample, weight in zip(profile["samples"], profile["weights"], strict=True):
            yield [names[i] for i in sample], float(weight)
        return
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames:
            yield frames.split(";"), float(count)


def area(frame: str) -> str:
    return next((name for marker, name in AREAS if marker in frame), "other")


def short(frame: str) -> str:
    """`name (path:line)` -> `name (file)`: one entry per function, whatever the line."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0].rsplit('/', 1)[-1]})" if where else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--thread", help="a thread whose name contains this (default: the busiest)")
    args = parser.parse_args()
    for name, seconds in threads(args.profile):
        print(f"thread {name}: {seconds:.1f} s sampled")
    total = 0.0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for frames, count in stacks(args.profile, args.thread):
        total += count
        for name in {short(f) for f in frames}:
            inclusive[name] += count
        if frames:
            own[short(frames[-1])] += count
            areas[area(frames[-1])] += count
    print(f"{args.profile}{f' thread {args.thread}' if args.thread else ''}: {total:g} sampled")
    print("\nself time by area:")
    for name, count in areas.most_common():
        print(f"  {100 * count / total:5.1f}%  {name}")
    print(f"\ninclusive (on the stack), top {args.top}:")
    for name, count in inclusive.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")
    print(f"\nself, top {args.top}:")
    for name, count in own.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
