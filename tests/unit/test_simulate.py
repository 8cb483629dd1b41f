"""`votewire simulate`: deterministic, truthful, contract-shaped nights (tiny preset)."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams import contract, simulate
from streams.errors import ConfigError, InvalidRecord
from streams.settings import Settings
from streams.simulation import ballot, geography, malformed


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
        ballot.races_for(geography.STATE_BY_POSTAL["CA"], True, ballot.parse_targets(["CA=Biden:50"]))
    with pytest.raises(ConfigError, match="STATE"):
        ballot.parse_targets(["California=Harris:50"])


def test_us_preset_layout_is_national_scale() -> None:
    states = list(simulate.layout(simulate.PRESETS["us"]))
    assert len(states) == 51
    assert 3_100 <= sum(c for _, c, _ in states) <= 3_200
    assert 175_000 <= sum(p for _, _, p in states) <= 180_000


def test_any_number_of_processes_writes_the_same_bytes(tmp_path: Path) -> None:
    for name in ("n.jsonl", "n.jsonl.gz"):
        run(tmp_path / f"1-{name}", "--preset", "tiny", "--seed", "3", "--malformed", "0.05", "--jobs", "1")
        run(tmp_path / f"2-{name}", "--preset", "tiny", "--seed", "3", "--malformed", "0.05", "--jobs", "2")
        assert (tmp_path / f"1-{name}").read_bytes() == (tmp_path / f"2-{name}").read_bytes()


def test_gzip_holds_the_same_lines_with_no_timestamp(tmp_path: Path) -> None:
    run(tmp_path / "n.jsonl", "--preset", "tiny", "--seed", "4")
    run(tmp_path / "n.jsonl.gz", "--preset", "tiny", "--seed", "4")
    packed = (tmp_path / "n.jsonl.gz").read_bytes()
    assert packed[4:8] == b"\0\0\0\0"  # mtime 0 in the (first) member's header
    assert gzip.decompress(packed) == (tmp_path / "n.jsonl").read_bytes()


def test_every_record_decodes_under_the_contract(tmp_path: Path) -> None:
    out = tmp_path / "n.jsonl"
    run(out, "--preset", "tiny", "--seed", "8")
    decoders = {"race-definitions": contract.decode_race_definition, "expected-votes": contract.decode_expected_vote,
                "precinct-results": contract.decode_precinct_report}
    for rec in lines(out):
        decoders[rec["topic"]](orjson.dumps(rec["value"]))


@pytest.mark.parametrize("kind", malformed.KIND_NAMES)
def test_every_malformed_kind_is_refused_by_the_contract(tmp_path: Path, kind: str) -> None:
    good = next(r["value"] for r in lines(_night(tmp_path)) if r["topic"] == "precinct-results" and "value" in r)
    contract.decode_precinct_report(orjson.dumps(good))
    with pytest.raises(InvalidRecord):
        contract.decode_precinct_report(malformed.KINDS[kind](good).encode())


def test_malformed_payloads_in_the_file_are_all_refused(tmp_path: Path) -> None:
    out = tmp_path / "n.jsonl"
    run(out, "--preset", "tiny", "--malformed", "0.5")
    payloads = [r["payload"] for r in lines(out) if "payload" in r]
    assert len(payloads) > 50
    for payload in payloads:
        with pytest.raises(InvalidRecord):
            contract.decode_precinct_report(payload.encode())


def test_duplicates_out_of_order_and_corrections_are_present(tmp_path: Path) -> None:
    out = tmp_path / "n.jsonl"
    run(out, "--preset", "tiny", "--seed", "9", "--duplicates", "0.2", "--out-of-order", "0.2", "--corrections", "0.2")
    seen: Counter[tuple[str, str, int]] = Counter()
    newest: dict[tuple[str, str], int] = {}
    votes: dict[tuple[str, str, int], dict[str, int]] = {}
    stale = 0
    for rec in lines(out):
        value = rec.get("value")
        if rec["topic"] != "precinct-results" or value is None:
            continue
        unit = (rec["key"], value["precinct_id"])
        seen[(*unit, value["seq"])] += 1
        votes[(*unit, value["seq"])] = value["votes"]
        stale += value["seq"] < newest.get(unit, -1)
        newest[unit] = max(newest.get(unit, -1), value["seq"])
    corrected = [k for k, v in votes.items() if k[2] and sum(v.values()) < sum(votes[(k[0], k[1], k[2] - 1)].values())]
    assert max(seen.values()) > 1  # re-sent reports
    assert stale > 0  # a report delivered after a newer one
    assert corrected  # a count that went down


def test_the_progress_bar_draws_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run(tmp_path / "n.jsonl", "--preset", "tiny")
    assert "simulate" in terminal.getvalue()
    assert "records" in terminal.getvalue()


def _night(tmp_path: Path) -> Path:
    out = tmp_path / "good.jsonl"
    run(out, "--preset", "tiny", "--seed", "10")
    return out
