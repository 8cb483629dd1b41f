"""`votewire simulate`: deterministic, truthful, contract-shaped nights (tiny preset)."""

from __future__ import annotations

import argparse
import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams import simulate
from streams.errors import ConfigError
from streams.settings import Settings
from streams.simulation import ballot


def run(out: Path, *argv: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    assert simulate.run(parser.parse_args(["--out", str(out), *argv]), Settings()) == 0
    truth: dict[str, Any] = orjson.loads(Path(f"{out}.truth.json").read_bytes())
    return truth


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def latest_reports(recs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """What a correct worker keeps: per unit, the report with the highest seq (ties: first)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in recs:
        value = rec.get("value")
        if rec["topic"] == "precinct-results" and value is not None:
            unit = (rec["key"], value["precinct_id"])
            if unit not in latest or value["seq"] > latest[unit]["seq"]:
                latest[unit] = value
    return latest


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    digests = []
    for name, seed in (("a.jsonl", "5"), ("b.jsonl", "5"), ("c.jsonl", "6"), ("d.jsonl.gz", "5"), ("e.jsonl.gz", "5")):
        run(tmp_path / name, "--preset", "tiny", "--seed", seed, "--malformed", "0.05")
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1] != digests[2]
    assert digests[3] == digests[4]


def test_truth_matches_the_latest_report_of_every_unit(tmp_path: Path) -> None:
    out = tmp_path / "n.jsonl"
    truth = run(out, "--preset", "tiny", "--seed", "2", "--duplicates", "0.3", "--out-of-order", "0.3",
                "--corrections", "0.3")
    totals: dict[str, Counter[str]] = {}
    for value in latest_reports(lines(out)).values():
        assert value["complete"] is True
        key = f"{value['election_id']}/{value['race_id']}/{value['state']}/{value['mode']}"
        totals.setdefault(key, Counter()).update(value["votes"])
    assert set(totals) == set(truth["races"]) == {
        "2024-11-05/president/DE/live", "2024-11-05/senate/DE/live", "2024-11-05/president/NH/live"}
    for key, race in truth["races"].items():
        assert dict(totals[key]) == race["votes"]
        assert race["total_votes"] == sum(race["votes"].values())


def test_records_are_in_time_order_and_follow_the_contract(tmp_path: Path) -> None:
    out = tmp_path / "n.jsonl"
    run(out, "--preset", "tiny")
    recs = lines(out)
    assert [r["ts"] for r in recs] == sorted(r["ts"] for r in recs)
    topics = Counter(r["topic"] for r in recs)
    assert set(topics) == {"race-definitions", "expected-votes", "precinct-results"}
    for rec in recs:
        value = rec["value"]
        assert rec["key"] == f"{value['election_id']}/{value['race_id']}/{value['state']}"
    defs = [r["value"] for r in recs if r["topic"] == "race-definitions"]
    assert all(d["simulated"] is True for d in defs)
    assert {d["polls_close"] for d in defs if d["state"] == "DE"} == {"2024-11-06T01:00:00Z"}  # 8 pm EST
    assert [d["certified"] for d in defs if d["race_id"] == "president" and d["state"] == "DE"] == [False, True]
    seqs = [r["value"]["seq"] for r in recs if r["topic"] == "expected-votes" and r["key"].endswith("president/DE")]
    assert seqs == sorted(seqs)
    assert len(seqs) >= 3


def test_template_lines_are_exactly_what_orjson_writes(tmp_path: Path) -> None:
    out = tmp_path / "n.jsonl"
    run(out, "--preset", "tiny")
    for line in out.read_bytes().splitlines():
        assert orjson.dumps(orjson.loads(line)) == line


def test_malformed_records_are_payloads_and_counted(tmp_path: Path) -> None:
    out = tmp_path / "n.jsonl"
    truth = run(out, "--preset", "tiny", "--malformed", "0.5")
    payloads = [r for r in lines(out) if "payload" in r]
    assert len(payloads) == truth["malformed_records"] > 10
    assert all(r["topic"] == "precinct-results" and isinstance(r["payload"], str) for r in payloads)
    texts = " ".join(r["payload"] for r in payloads)
    assert "NaN" in texts or "Infinity" in texts or '"mode":"rehearsal"' in texts


def test_target_shares_are_hit(tmp_path: Path) -> None:
    truth = run(tmp_path / "n.jsonl", "--preset", "tiny", "--target", "DE=Harris:70,Trump:28")
    race = truth["races"]["2024-11-05/president/DE/live"]
    assert 100 * race["votes"]["harris"] / race["total_votes"] == pytest.approx(70, abs=0.1)
    assert 100 * race["votes"]["trump"] / race["total_votes"] == pytest.approx(28, abs=0.1)


def test_bad_target_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no candidate 'Biden'"):
        ballot.races_for(ballot.STATE_BY_POSTAL["CA"], True, ballot.parse_targets(["CA=Biden:50"]))
    with pytest.raises(ConfigError, match="STATE"):
        ballot.parse_targets(["California=Harris:50"])


def test_us_preset_layout_is_national_scale() -> None:
    states = list(simulate.layout(simulate.PRESETS["us"]))
    assert len(states) == 51
    assert 3_100 <= sum(c for _, c, _ in states) <= 3_200
    assert 175_000 <= sum(p for _, _, p in states) <= 180_000
