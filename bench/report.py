"""latest.md from latest.json's contents: the targets, the nights side by side, every figure,
what each part measures, what each part cost and the notes."""

from __future__ import annotations

from typing import Any

# The nights read side by side, in the order they run (bench/nights.py).
ROLES = ("us", "us-model", "ballot-polls", "ballot-batches", "full")
ROW = ("limit", "tally_no_durability", "quix_peer", "votewire_catchup")


def markdown(doc: dict[str, Any]) -> str:
    return "\n".join([*header(doc), *targets_table(doc["targets"]), *nights_table(doc["figures"], doc["inputs"]),
                      *figures_table(doc["figures"]), *parts_table(doc["part_seconds"]),
                      "", "## What each part measures", "",
                      *(f"- **{name}**: {f['what']}" for name, f in doc["figures"].items() if "what" in f),
                      "", "## Notes", "", *(f"- {n}" for n in doc["notes"]), ""])


def header(doc: dict[str, Any]) -> list[str]:
    m, targets = doc["machine"], doc["targets"]
    met = sum(1 for t in targets if t["met"])
    verdict = "FAILED" if doc["failures"] else "every final snapshot exact"
    return [f"# votewire bench: {verdict}; {met} of {len(targets)} targets met", "",
            f"- command: `{doc['command']}` ({doc['wall_seconds'] / 60:.1f} min, started {doc['started_at']})",
            f"- machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}, {m['os']}, "
            f"load {m['load_1min_at_start']} at start",
            "- versions: " + ", ".join(f"{k} {v}" for k, v in doc["versions"].items()),
            *(f"- input {k}: {v}" for k, v in doc["inputs"].items()), "",
            *(f"**FAILED:** {why}" for why in doc["failures"])]


def targets_table(targets: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## Targets", "", "| issue | target | measured | yardstick | ratio | target | met |",
             "|---|---|---|---|---|---|---|"]
    for t in targets:
        value = "not measured" if t["value"] is None else f"{t['value']:,.{1 if t['unit'] == 's' else 0}f} {t['unit']}"
        verdict = {None: "not measured", True: "met", False: "**missed**"}[t["met"]]
        ratio = "" if t["ratio"] is None else f"{t['ratio']:.2f}x"
        lines.append(f"| {t['issue']} | {t['name']} | {value} | {t['yardstick']} | {ratio} | {t['limit']} "
                     f"| {verdict} |")
    return lines


def nights_table(figures: dict[str, dict[str, Any]], inputs: dict[str, Any]) -> list[str]:
    """Seconds on each night's pre-filled topic: the limit, the no-durability loop, Quix, votewire."""
    rows = [role for role in ROLES if any(f"{role}.{kind}" in figures for kind in ROW)]
    if not rows:
        return []
    lines = ["", "## The nights side by side (seconds on the same pre-filled topic)", "",
             "| night | packing | records | reports | limit | no-durability loop | Quix Streams peer | votewire "
             "catch-up | votewire vs loop | votewire vs Quix | votewire peak RSS MB | exact |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for role in rows:
        row = {kind: figures.get(f"{role}.{kind}", {}) for kind in ROW}
        mine = row["votewire_catchup"]
        lines.append(f"| {role} | {inputs.get(role, {}).get('packing', '')} | {_n(_first(row, 'records'))} | "
                     f"{_n(_first(row, 'reports'))} | "
                     + " | ".join(_n(row[kind].get("seconds")) for kind in ROW)
                     + f" | {_speed(mine, row['tally_no_durability'])} | {_speed(mine, row['quix_peer'])} | "
                     f"{_n(mine.get('peak_rss_mb'))} | {_n(mine.get('exact'))} |")
    return lines


def figures_table(figures: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["", "## Figures", "", "| part | records | reports | seconds | records/s | reports/s | vs limit | more |",
             "|---|---|---|---|---|---|---|---|"]
    for name, f in figures.items():
        rate = f.get("records_per_s")
        limit = figures.get(f"{name.split('.')[0]}.limit", {}).get("records_per_s")
        vs = f"{rate / limit:.2f}x" if rate and limit else ""
        more = {k: v for k, v in f.items() if k not in {"records", "reports", "seconds", "records_per_s",
                                                         "reports_per_s", "what"}}
        lines.append(f"| {name} | {_n(f.get('records'))} | {_n(f.get('reports'))} | {_n(f.get('seconds'))} | "
                     f"{_n(rate)} | {_n(f.get('reports_per_s'))} | {vs} | "
                     + ", ".join(f"{k} {v}" for k, v in more.items()) + " |")
    return lines


def parts_table(part_seconds: dict[str, float]) -> list[str]:
    if not part_seconds:
        return []
    return ["", "## What each part cost (wall clock, simulation and pre-fill included)", "",
            "| part | seconds |", "|---|---|", *(f"| {p} | {s:,.1f} |" for p, s in part_seconds.items())]


def _first(row: dict[str, dict[str, Any]], key: str) -> Any:
    return next((f[key] for f in row.values() if f.get(key) is not None), None)


def _speed(mine: dict[str, Any], theirs: dict[str, Any]) -> str:
    """Records/s over the yardstick's on the same topic (> 1: votewire is faster)."""
    a, b = mine.get("records_per_s"), theirs.get("records_per_s")
    return f"{a / b:.2f}x" if a and b else ""


def _n(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}" if isinstance(value, float) else str(value)
