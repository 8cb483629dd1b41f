"""The figures of one `make bench` run, the targets they are held to, and the two result files.

Targets (issue 8), each with its yardstick measured in the same run:
- national night (batched) to exact final snapshots <= 60 s, worker peak RSS <= 1 GB (10^9 bytes);
- worker catch-up on the batched topic >= 50% of the same tally with no durability, and ahead
  of the Quix Streams peer on the same topic;
- worker catch-up on the single-report topic >= 75% of faust's own no-op floor;
- p99 report -> snapshot <= the publish interval + 250 ms at 5,000 reports/s offered (and drained);
- restart to current snapshots <= 15 s.
A target whose figure was not measured (a part skipped or failed) is "not measured", not met.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.harness import SnapshotWatch


@dataclass
class Target:
    name: str
    value: float | None
    unit: str
    limit: str  # the target, as a reader says it
    met: bool | None  # None: not measured
    yardstick: str = ""
    ratio: float | None = None


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

    # --- targets -------------------------------------------------------------------------------

    def _get(self, name: str, key: str) -> float | None:
        value = self.figures.get(name, {}).get(key)
        return float(value) if isinstance(value, int | float) else None

    def _ratio(self, name: str, yardstick: str, key: str) -> float | None:
        mine, theirs = self._get(name, key), self._get(yardstick, key)
        return round(mine / theirs, 3) if mine is not None and theirs else None

    def targets(self) -> list[Target]:
        night_s, rss = self._get("national_night", "seconds"), self._get("national_night", "peak_rss_mb")
        vs_loop = self._ratio("votewire_catchup", "tally_no_durability", "records_per_s")
        vs_quix = self._ratio("votewire_catchup", "quix_peer", "records_per_s")
        vs_floor = self._ratio("votewire_catchup_single", "faust_floor_single", "records_per_s")
        p99 = self._get("latency_5000", "p99_ms")
        drained = self.figures.get("latency_5000", {}).get("drained")
        p99_limit = self.publish_interval_s * 1000 + 250
        restart = self._get("restart", "seconds")

        def met(value: float | None, ok: bool) -> bool | None:
            return None if value is None else ok

        return [
            Target("national night to exact final snapshots", night_s, "s", "<= 60 s",
                   met(night_s, night_s is not None and night_s <= 60)),
            Target("worker peak RSS, national night", rss, "MB", "<= 1000 MB",
                   met(rss, rss is not None and rss <= 1000)),
            Target("catch-up, batched topic, vs the same tally with no durability",
                   self._get("votewire_catchup", "records_per_s"), "records/s", ">= 0.50x",
                   met(vs_loop, vs_loop is not None and vs_loop >= 0.5), "tally_no_durability", vs_loop),
            Target("catch-up, batched topic, vs the Quix Streams peer",
                   self._get("votewire_catchup", "records_per_s"), "records/s", "> 1.00x",
                   met(vs_quix, vs_quix is not None and vs_quix > 1.0), "quix_peer", vs_quix),
            Target("catch-up, single-report topic, vs faust's no-op floor",
                   self._get("votewire_catchup_single", "records_per_s"), "records/s", ">= 0.75x",
                   met(vs_floor, vs_floor is not None and vs_floor >= 0.75), "faust_floor_single", vs_floor),
            Target("p99 report -> snapshot at 5,000 reports/s offered, drained", p99, "ms", f"<= {p99_limit:.0f} ms",
                   met(p99, p99 is not None and p99 <= p99_limit and bool(drained))),
            Target("restart to current snapshots", restart, "s", "<= 15 s",
                   met(restart, restart is not None and restart <= 15)),
        ]

    # --- files -------------------------------------------------------------------------------

    def as_json(self) -> dict[str, Any]:
        targets = self.targets()
        # "passed" says every final snapshot was exact; the targets say how fast it got there.
        return {"status": "failed" if self.failures else "passed", "failures": self.failures,
                "targets_met": f"{sum(1 for t in targets if t.met)}/{len(targets)}",
                "command": self.command, "started_at": self.started_at, "wall_seconds": round(self.wall_seconds, 1),
                "machine": self.machine, "versions": self.versions, "publish_interval_s": self.publish_interval_s,
                "inputs": self.inputs, "figures": self.figures, "targets": [asdict(t) for t in targets],
                "notes": self.notes}

    def as_markdown(self) -> str:
        m = self.machine
        targets = self.targets()
        met = sum(1 for t in targets if t.met)
        verdict = "FAILED" if self.failures else "every final snapshot exact"
        lines = [f"# votewire bench: {verdict}; {met} of {len(targets)} targets met", "",
                 f"- command: `{self.command}` ({self.wall_seconds / 60:.1f} min, started {self.started_at})",
                 f"- machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}, {m['os']}, "
                 f"load {m['load_1min_at_start']} at start",
                 "- versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items()),
                 *(f"- input {k}: {v}" for k, v in self.inputs.items()), ""]
        lines += [f"**FAILED:** {why}" for why in self.failures]
        lines += ["", "## Targets", "", "| target | measured | yardstick | ratio | target | met |",
                  "|---|---|---|---|---|---|"]
        for t in targets:
            value = "not measured" if t.value is None else f"{t.value:,.{1 if t.unit == 's' else 0}f} {t.unit}"
            verdict = {None: "not measured", True: "met", False: "**missed**"}[t.met]
            ratio = "" if t.ratio is None else f"{t.ratio:.2f}x"
            lines.append(f"| {t.name} | {value} | {t.yardstick} | {ratio} | {t.limit} | {verdict} |")
        lines += ["", "## Figures", "",
                  "| part | records | reports | seconds | records/s | reports/s | vs limit | more |",
                  "|---|---|---|---|---|---|---|---|"]
        limit = self._get("limit", "records_per_s")
        for name, f in self.figures.items():
            rate = f.get("records_per_s")
            vs = f"{rate / limit:.2f}x" if rate and limit else ""
            more = {k: v for k, v in f.items() if k not in {"records", "reports", "seconds", "records_per_s",
                                                             "reports_per_s", "what"}}
            lines.append(f"| {name} | {_n(f.get('records'))} | {_n(f.get('reports'))} | {_n(f.get('seconds'))} | "
                         f"{_n(rate)} | {_n(f.get('reports_per_s'))} | {vs} | "
                         + ", ".join(f"{k} {v}" for k, v in more.items()) + " |")
        lines += ["", "## What each part measures", ""]
        lines += [f"- **{name}**: {f['what']}" for name, f in self.figures.items() if "what" in f]
        lines += ["", "## Notes", "", *(f"- {n}" for n in self.notes), ""]
        return "\n".join(lines)

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        json_path, md_path = directory / f"{name}.json", directory / f"{name}.md"
        json_path.write_bytes(orjson.dumps(self.as_json(), option=orjson.OPT_INDENT_2) + b"\n")
        md_path.write_text(self.as_markdown())
        return json_path, md_path


def _n(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}" if isinstance(value, float) else str(value)
