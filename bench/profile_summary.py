"""What a py-spy profile of the worker says, as text: where the samples go.

    .venv/bin/python bench/profile_summary.py bench/profiles/NAME.json [--top 25]

Reads py-spy's speedscope JSON (`-f speedscope`) or its raw collapsed stacks (`-f raw`,
one `frame;frame;... count` per line) and prints, for the samples of the busiest thread:
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


def stacks(path: Path) -> Iterator[tuple[list[str], int]]:
    """(frames outermost first, samples) for each distinct stack of the busiest thread."""
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        names = [f"{f['name']} ({f.get('file', '?')}:{f.get('line', '?')})" for f in data["shared"]["frames"]]
        profile = max(data["profiles"], key=lambda p: sum(p["weights"]))
        for sample, weight in zip(profile["samples"], profile["weights"], strict=True):
            yield [names[i] for i in sample], int(weight)
        return
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames:
            yield frames.split(";"), int(count)


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
    args = parser.parse_args()
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for frames, count in stacks(args.profile):
        total += count
        for name in {short(f) for f in frames}:
            inclusive[name] += count
        if frames:
            own[short(frames[-1])] += count
            areas[area(frames[-1])] += count
    print(f"{args.profile}: {total} samples")
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
