"""Clarity ENR adapter, against real detail.xml snapshots (tests/fixtures/clarity)."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from streams.adapters import clarity
from streams.contract.recording import OutRecord
from streams.errors import SourceError
from tests.unit.adapter_polls import as_single_reports, polls

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "clarity"
COUNTY = FIXTURES / "county.xml"  # Arkansas 2014 general, by county
PRECINCT = FIXTURES / "precinct.xml"  # Greenup County, KY, 2014 primary, by precinct
GREENUP = ["--state", "KY", "--county", "21089"]


def run_as_sent(*argv: str) -> list[OutRecord]:
    parser = argparse.ArgumentParser()
    clarity.add_arguments(parser)
    return list(clarity.records(parser.parse_args(list(argv))))


def run(*argv: str) -> list[OutRecord]:
    """The records with each batch checked and replaced by its reports (tests/unit/adapter_polls.py)."""
    return as_single_reports(run_as_sent(*argv))


def xml_choice_totals(path: Path, unit_tag: str) -> dict[str, int]:
    """Choice text -> its unit votes summed over every vote type, straight from the XML."""
    totals: Counter[str] = Counter()
    for choice in ET.parse(path).getroot().iter("Choice"):
        for unit in choice.iter(unit_tag):
            totals[choice.get("text", "")] += int(unit.get("votes", "0"))
    return dict(totals)


def tallied(recs: list[OutRecord]) -> dict[str, int]:
    names = {c["candidate_id"]: c["name"] for r in recs if r.topic == "race-definitions"
             for c in r.value["candidates"]}
    totals: Counter[str] = Counter()
    for rec in recs:
        if rec.topic == "precinct-results":
            totals.update({names[cid]: n for cid, n in rec.value["votes"].items()})
    return dict(totals)


def test_county_level_choice_totals_match_the_xml() -> None:
    recs = run(str(COUNTY))
    # 462,123 = the four vote types' totals (248,263 + 200,430 + 13,319 + 111); this trimmed
    # snapshot's Choice@totalVotes (477,734) is larger, so the adapter sums the units, not it.
    assert tallied(recs) == xml_choice_totals(COUNTY, "County") == {"Tom Cotton": 462_123}


def test_precinct_level_choice_totals_match_the_xml() -> None:
    recs = run(str(PRECINCT), *GREENUP)
    assert tallied(recs) == xml_choice_totals(PRECINCT, "Precinct")
    assert tallied(recs)["Mitch McCONNELL"] == 1135


def test_county_units_carry_fips_and_precincts() -> None:
    recs = run(str(COUNTY))
    units = [r.value for r in recs if r.topic == "precinct-results"]
    assert len(units) == len({u["precinct_id"] for u in units}) == 75
    first = units[0]  # Arkansas County: FIPS 05001, 30 of 30 precincts
    assert (first["county_fips"], first["precincts_reporting"], first["precincts_total"]) == ("05001", 30, 30)
    assert first["reported_at"] == "2014-11-13T20:58:41Z"  # 2:58:41 PM CST
    assert recs[0].value["precincts_total"] == 2655
    assert recs[0].key == "2014-11-04/us-senate/AR"


def test_one_poll_per_changed_snapshot(tmp_path: Path) -> None:
    later = tmp_path / "later.xml"
    later.write_text(COUNTY.read_text().replace('<County name="Arkansas" votes="1144" />',
                                                '<County name="Arkansas" votes="1150" />'))
    sent = polls(run_as_sent(str(COUNTY), str(COUNTY), str(later)))
    # the unchanged snapshot sends none
    assert [[len(r["reports"]) for r in rec.value["races"]] for rec in sent] == [[75], [1]]
    assert {rec.key for rec in sent} == {"2014-11-04/AR"}


def test_precinct_ids_are_qualified_by_county() -> None:
    recs = run(str(PRECINCT), *GREENUP)
    ids = [r.value["precinct_id"] for r in recs if r.topic == "precinct-results"]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("21089-") for i in ids)


def test_precinct_file_without_county_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(str(PRECINCT), "--state", "KY") == []
    assert "pass --county FIPS" in capsys.readouterr().err


def test_missing_attribute_names_the_element(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = PRECINCT.read_text()
    text = text.replace('<Precinct name="A101" votes="36" />', '<Precinct name="A101" />', 1)
    path = tmp_path / "detail.xml"
    path.write_text(text)
    good = run(str(PRECINCT), *GREENUP)
    recs = run(str(path), *GREENUP)
    err = capsys.readouterr().err
    where = "Contest[key=4]/Choice[key=1]/VoteType[name=Election]/Precinct[2]: no 'votes' attribute"
    assert f"{path}:{where}" in err
    assert len([r for r in recs if r.topic == "precinct-results"]) == \
        len([r for r in good if r.topic == "precinct-results"]) - 1  # only that precinct is left out
    with pytest.raises(SourceError, match=r"Precinct\[2\]"):
        run(str(path), *GREENUP, "--strict")


def test_unchanged_snapshot_emits_nothing_and_a_change_emits_seq_1(tmp_path: Path) -> None:
    later = tmp_path / "later.xml"
    later.write_text(COUNTY.read_text().replace('<County name="Arkansas" votes="1144" />',
                                                '<County name="Arkansas" votes="1150" />'))
    recs = run(str(COUNTY), str(COUNTY), str(later))
    assert len(recs) == 76 + 1
    assert (recs[-1].value["precinct_id"], recs[-1].value["seq"]) == ("05001", 1)
    assert recs[-1].value["votes"]["tom-cotton"] == 2596


def test_not_xml_is_reported_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cut.xml"
    path.write_text(COUNTY.read_text()[:3000])
    assert len(run(str(path), str(COUNTY))) == 76
    assert f"{path}:line" in capsys.readouterr().err


def test_clarity_time_converts_zones() -> None:
    assert clarity.clarity_time("5/20/2014 8:19:21 PM EDT") == "2014-05-21T00:19:21Z"
    with pytest.raises(ValueError, match="time zone"):
        clarity.clarity_time("5/20/2014 8:19:21 PM XYZ")
