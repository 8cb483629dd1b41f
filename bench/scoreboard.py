"""The figures of one `make bench` run, the targets they are held to (bench/targets.py), and
the two result files: latest.json (everything) and latest.md (targets, the nights side by side,
every figure, what each part measures and what it cost)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench import report
from bench.harness import SnapshotWatch
from bench.targets import Target, targets


@dataclass
class Scoreboard:
    command: str
    machine: dict[str, Any]
    versions: dict[str, str]
    publish_interval_s: float
    inputs: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    part_seconds: dict[str, float] = field(default_factory=dict)  # what each part cost, wall clock
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def figure(self, name: str, figures: dict[str, Any]) -> None:
        self.figures[name] = figures
        print(f"{name}: {orjson.dumps(figures).decode()}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"note: {text}", flush=True)

    def fail(self, why: str) -> None:
        self.failures.append(why)
        print(f"FAILED: {why}", flush=True)

    def exactness(self, what: str, exact: bool, watch: SnapshotWatch) -> None:
        if not exact:
            self.fail(f"{what}: {len(watch.exact)}/{len(watch.truth)} race/states exact at the deadline; "
                      + "; ".join(watch.mismatches()))

    def exact_count(self, what: str, exact: int, total: int) -> None:
        if exact != total:
            self.fail(f"{what}: only {exact}/{total} race/states equal the truth")

    def targets(self) -> list[Target]:
        presets = {role: night["preset"] for role, night in self.inputs.items()
                   if isinstance(night, dict) and "preset" in night}
        return targets(self.figures, self.publish_interval_s, presets)

    # --- files -------------------------------------------------------------------------------

    def as_json(self) -> dict[str, Any]:
        targets = self.targets()
        # "passed" says every final snapshot was exact; the targets say how fast it got there.
        return {"status": "failed" if self.failures else "passed", "failures": self.failures,
                "targets_met": f"{sum(1 for t in targets if t.met)}/{len(targets)}",
                "command": self.command, "started_at": self.started_at, "wall_seconds": round(self.wall_seconds, 1),
                "part_seconds": {k: round(v, 1) for k, v in self.part_seconds.items()},
                "machine": self.machine, "versions": self.versions, "publish_interval_s": self.publish_interval_s,
                "inputs": self.inputs, "figures": self.figures, "targets": [asdict(t) for t in targets],
                "notes": self.notes}

    def as_markdown(self) -> str:
        return report.markdown(self.as_json())

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        json_path, md_path = directory / f"{name}.json", directory / f"{name}.md"
        json_path.write_bytes(orjson.dumps(self.as_json(), option=orjson.OPT_INDENT_2) + b"\n")
        md_path.write_text(self.as_markdown())
        return json_path, md_path

