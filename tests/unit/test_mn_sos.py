"""The Minnesota adapter against the real 2024 night and the official results.

The oracle here is deliberately independent of the project's tally code: keep each unit's
highest-seq report, sum the votes. If the adapter drops, doubles or reorders a report, the
official figures stop matching. The adapter emits batches; the tests read their reports
(`as_single_reports`, which checks each batch against the contract first).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

import pytest

from streams.adapters import mn_sos
from streams.contract.recording import OutRecord
from streams.errors import SourceError
from tests.unit.adapter_polls import as_single_reports, polls

PRES_KEY = "2024-11-05/president/MN"


@pytest.fixture(scope="module")
def night_as_sent(mn_night: Path) -> list[OutRecord]:
    errors: list[SourceError] = []
    records = list(mn_sos.night_records(mn_night, errors.append))
    assert errors == []
    return records


@pytest.fixture(scope="module")
def night(night_as_sent: list[OutRecord]) -> list[OutRecord]:
    return as_single_reports(night_as_sent)


def test_one_poll_of_the_state_per_snapshot_with_changes(night_as_sent: list[OutRecord]) -> None:
    sent = polls(night_as_sent)
    assert len({rec.ts_ms for rec in sent}) == len(sent)
    assert {rec.key for rec in sent} == {"2024-11-05/MN"}
    assert all(len({e["reported_at"] for r in rec.value["races"] for e in r["reports"]}) == 1 for rec in sent)
    assert all(rec.value["mode"] == "live" for rec in sent)
    # The pre-election zero file: every county of both races, in one poll.
    [first] = [rec for rec in sent if rec.ts_ms == ms("20241105T052227Z")]
    assert [(r["race_id"], len(r["reports"])) for r in first.value["races"]] == [("president", 87), ("senate", 87)]
    # The first results: only the 3 counties that changed.
    [changed] = [rec for rec in sent if rec.ts_ms == ms("20241106T021003Z")]
    assert [len(r["reports"]) for r in changed.value["races"]] == [3, 3]


def ms(text: str) -> int:
    return mn_sos.snapshot_ms(Path(f"{text}.txt"))


def latest_reports(records: Iterable[OutRecord], race_id: str, until_ms: int | None = None) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for rec in records:
        v = rec.value
        if rec.topic != "precinct-results" or v["race_id"] != race_id or (until_ms and rec.ts_ms > until_ms):
            continue
        if v["precinct_id"] not in latest or v["seq"] > latest[v["precinct_id"]]["seq"]:
            latest[v["precinct_id"]] = dict(v)
    return latest


def totals_by_name(records: list[OutRecord], race_id: str, until_ms: int | None = None) -> dict[str, int]:
    definition = next(r.value for r in records if r.topic == "race-definitions" and r.value["race_id"] == race_id)
    names = {c["candidate_id"]: c["short_name"] for c in definition["candidates"]}
    totals: dict[str, int] = {}
    for report in latest_reports(records, race_id, until_ms).values():
        for cid, votes in report["votes"].items():
            totals[names[cid]] = totals.get(names[cid], 0) + votes
    return totals


def test_final_president_tally_matches_the_official_result(night: list[OutRecord]) -> None:
    totals = totals_by_name(night, "president")
    assert totals["Harris"] == 1_656_979
    assert totals["Trump"] == 1_519_032
    assert sum(totals.values()) == 3_253_920
    final = latest_reports(night, "president").values()
    assert len(final) == 87
    assert sum(r["precincts_reporting"] for r in final) == 4_103
    assert sum(r["precincts_total"] for r in final) == 4_103
    assert all(r["complete"] for r in final)


def test_the_downward_correction_of_nov_6_is_emitted_as_it_is(night: list[OutRecord]) -> None:
    before = sum(totals_by_name(night, "president", ms("20241106T171002Z")).values())
    after = sum(totals_by_name(night, "president", ms("20241106T231002Z")).values())
    assert (before, after) == (3_254_709, 3_249_987)


def test_records_are_in_source_time_order_with_definitions_first(night: list[OutRecord]) -> None:
    assert [r.ts_ms for r in night] == sorted(r.ts_ms for r in night)
    assert [r.topic for r in night[:4]] == ["race-definitions"] * 2 + ["expected-votes"] * 2
    assert {r.key for r in night if r.topic != "precinct-results"} == {PRES_KEY, "2024-11-05/senate/MN"}
    assert {r.key for r in night if r.topic == "precinct-results"} == {"2024-11-05/MN"}


def test_each_unit_is_emitted_only_when_changed_with_seq_one_higher(night: list[OutRecord]) -> None:
    last: dict[tuple[str, str], dict] = {}
    for rec in night:
        if rec.topic != "precinct-results":
            continue
        v = rec.value
        unit = (v["race_id"], v["precinct_id"])
        content = (v["votes"], v["precincts_reporting"], v["precincts_total"])
        if unit in last:
            assert v["seq"] == last[unit]["seq"] + 1
            assert content != (last[unit]["votes"], last[unit]["precincts_reporting"], last[unit]["precincts_total"])
        else:
            assert v["seq"] == 0
        last[unit] = v
    assert len(last) == 2 * 87


def test_race_definitions_and_the_certified_revision(night: list[OutRecord]) -> None:
    definitions = [r for r in night if r.topic == "race-definitions" and r.key == PRES_KEY]
    assert [d.value["certified"] for d in definitions] == [False, True]
    final_ms = ms("20241213T223552Z")
    assert definitions[1].ts_ms == final_ms - 1
    assert all(r.ts_ms == final_ms for r in night[night.index(definitions[1]) + 1:] if r.topic == "precinct-results")
    first = definitions[0].value
    assert first["precincts_total"] == 4_103
    assert first["polls_close"] == "2024-11-06T02:00:00Z"
    assert first["previous"] == [{"election_id": "2020-11-03", "shares": {"DFL": 52.40, "R": 45.28}}]
    short = {c["short_name"] for c in first["candidates"]}
    assert {"Harris", "Trump", "Kennedy", "De la Cruz", "Write-in"} <= short


def test_expected_vote_is_the_certified_final(night: list[OutRecord]) -> None:
    expected = next(r.value for r in night if r.topic == "expected-votes" and r.key == PRES_KEY)
    assert expected["expected_votes"] == 3_253_920
    assert len(expected["county_expected"]) == 87
    assert sum(expected["county_expected"].values()) == 3_253_920


def test_counties_carry_fips_times_and_registrations(night: list[OutRecord]) -> None:
    final = latest_reports(night, "president")
    assert {"27001", "27173"} <= set(final)  # Aitkin, Yellow Medicine
    assert all(r["county_fips"] == r["precinct_id"] for r in final.values())
    assert sum(r["registered_voters"] for r in final.values()) == 3_686_101
    first = next(r for r in night if r.topic == "precinct-results" and r.value["race_id"] == "president"
                 and r.value["votes"]["cand-0201"] > 0)
    assert first.value["reported_at"] == "2024-11-06T02:20:03Z"
    assert first.ts_ms == ms("20241106T022003Z")


@pytest.mark.parametrize(("name", "short"), [
    ("Kamala D. Harris and Tim Walz", "Harris"), ("Robert F. Kennedy Jr. and Nicole Shanahan", "Kennedy"),
    ("Claudia De la Cruz and Karina Garcia", "De la Cruz"), ("Amy Klobuchar", "Klobuchar"), ("WRITE-IN", "Write-in"),
])
def test_short_name_is_the_first_persons_last_name(name: str, short: str) -> None:
    assert mn_sos.short_name(name) == short


def test_county_fips_from_minnesota_county_id() -> None:
    assert [mn_sos.county_fips(c) for c in ("01", "27", "87")] == ["27001", "27053", "27173"]


ROW = "MN;{county};;{office};Office;;{cand};{name};;;{party};{rep};{tot};{votes};0;{total}"
RACE_FOLDERS = (("0101", "USPres.txt", "USPresCty.txt"), ("0102", "ussenate.txt", "ussenatecty.txt"))
STAMPS = ("20241106T021003Z", "20241106T031001Z")


def media_rows(office: str, i: int) -> tuple[list[str], list[str]]:
    """Statewide and county lines of snapshot `i` (0 = zeros, 1 = counts) of a two-county race."""
    statewide = [ROW.format(county="", office=office, cand=cand, name=name, party=party, rep=i, tot=2,
                            votes=v * i, total=8 * i)
                 for cand, name, party, v in (("0201", "A Harris", "DFL", 5), ("0101", "B Trump", "R", 3))]
    counties = [ROW.format(county=county, office=office, cand=cand, name="x", party="p", rep=i, tot=1,
                           votes=v * i, total=0)
                for county, votes in (("01", (2, 1)), ("02", (3, 2)))
                for cand, v in zip(("0201", "0101"), votes, strict=True)]
    return statewide, counties


def write_night(root: Path, bad_line: str | None = None) -> Path:
    """A two-snapshot night; `bad_line` goes in as line 3 of each race's second county file."""
    for office, statewide_dir, county_dir in RACE_FOLDERS:
        for i, stamp in enumerate(STAMPS):
            statewide, counties = media_rows(office, i)
            if bad_line and i == 1:
                counties.insert(2, bad_line)
            for folder, lines in ((statewide_dir, statewide), (county_dir, counties)):
                (root / folder).mkdir(exist_ok=True)
                (root / folder / f"{stamp}.txt").write_text("\r\n".join(lines) + "\r\n")
    (root / "pctstats.txt").mkdir()
    stats = "MN;01;0005;A;0;100;0;0;0;0;0;0\r\nMN;02;0010;B;0;50;0;0;0;0;0;0\r\n"
    (root / "pctstats.txt" / "20241105T052227Z.txt").write_text(stats)
    return root


def test_a_malformed_line_names_file_and_line_and_the_rest_is_kept(tmp_path: Path) -> None:
    root = write_night(tmp_path, bad_line="MN;02;;0101;Office;;0201;x;;;p;1;1;lots;0;0")
    errors: list[SourceError] = []
    records = as_single_reports(mn_sos.night_records(root, errors.append))
    assert len(errors) == 2  # one per race
    assert errors[0].path.endswith("USPresCty.txt/20241106T031001Z.txt")
    assert errors[0].place == "3"
    assert "Votes is 'lots'" in str(errors[0])
    final = latest_reports(records, "president")
    assert final["27001"]["votes"] == {"cand-0201": 2, "cand-0101": 1}
    assert final["27003"]["votes"] == {"cand-0201": 3, "cand-0101": 2}
    assert final["27001"]["registered_voters"] == 100


def test_records_reports_malformed_lines_on_stderr_or_stops_when_strict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_night(tmp_path, bad_line="MN;02;;too;few;fields")
    kept = list(mn_sos.records(argparse.Namespace(dir=root, strict=False)))
    assert len(kept) > 4
    assert "USPresCty.txt/20241106T031001Z.txt:3: 6 fields, expected 16" in capsys.readouterr().err
    with pytest.raises(SourceError, match=r"20241106T031001Z.txt:3:"):
        list(mn_sos.records(argparse.Namespace(dir=root, strict=True)))
