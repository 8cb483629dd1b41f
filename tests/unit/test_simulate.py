"""`votewire simulate`: deterministic, truthful, contract-shaped nights (tiny preset), in
`state-poll/1` records by state and window (the default), `precinct-batch/1` records by race and
window (`--per-race`), or one record per report (`--single`)."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams import contract
from streams.commands import simulate
from streams.contract import PrecinctRecord, PrecinctReport, batching
from streams.errors import ConfigError, InvalidRecord
from streams.geo import geography
from streams.settings import Settings
from streams.simulation import ballot, generate, malformed, packaging, polls

MINUTE_MS = 60_000
PACKINGS = pytest.mark.parametrize("packing", [(), ("--per-race",), ("--single",)], ids=["polls", "per-race", "single"])
GROUPED = pytest.mark.parametrize("packing", [(), ("--per-race",)], ids=["polls", "per-race"])
SCHEMAS = {(): "state-poll/1", ("--per-race",): "precinct-batch/1", ("--single",): "precinct-result/1"}


def run(out: Path, *argv: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    assert simulate.run(parser.parse_args(["--out", str(out), *argv]), Settings()) == 0
    truth: dict[str, Any] = orjson.loads(Path(f"{out}.truth.json").read_bytes())
    return truth


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def raw_value(rec: dict[str, Any]) -> bytes:
    """A record's value as the replay sends it."""
    return rec["payload"].encode() if "payload" in rec else orjson.dumps(rec["value"])


def batches(recs: list[dict[str, Any]], schema: str = "precinct-batch/1") -> list[dict[str, Any]]:
    """The good-looking batches (or polls) of a night, not the malformed payloads."""
    return [r for r in recs if r["topic"] == "precinct-results" and "value" in r and r["value"]["schema"] == schema]


def elements_of(value: dict[str, Any]) -> list[tuple[str, Any]]:
    """(race_id, element) of a batch or a poll, in order."""
    if value["schema"] == "state-poll/1":
        return [(race["race_id"], e) for race in value["races"] for e in race["reports"]]
    return [(value["race_id"], e) for e in value["reports"]]


def decoded(recs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], PrecinctRecord | None]]:
    """Each precinct-results record with what the contract makes of it (None: a dead letter)."""
    for rec in recs:
        if rec["topic"] == "precinct-results":
            try:
                yield rec, contract.decode_precinct_record(raw_value(rec))
            except InvalidRecord:
                yield rec, None


def applied_in_order(recs: list[dict[str, Any]]) -> Iterator[PrecinctReport]:
    """The valid reports in the order a worker applies them: records in file order, a batch's
    reports in list order."""
    for _, record in decoded(recs):
        if record is not None:
            yield from record.reports


def latest_reports(recs: list[dict[str, Any]]) -> dict[tuple[str, str], PrecinctReport]:
    """What a correct worker keeps: per unit, the report with the highest seq (ties: first)."""
    latest: dict[tuple[str, str], PrecinctReport] = {}
    for report in applied_in_order(recs):
        unit = (report.key, report.precinct_id)
        if unit not in latest or report.seq > latest[unit].seq:
            latest[unit] = report
    return latest


def dead_letters(recs: list[dict[str, Any]]) -> tuple[int, int]:
    """(records refused whole, elements refused in valid batches)."""
    results = [record for _, record in decoded(recs)]
    return sum(r is None for r in results), sum(len(r.refused) for r in results if r is not None)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    digests = []
    for name, seed in (("a.jsonl", "5"), ("b.jsonl", "5"), ("c.jsonl", "6"), ("d.jsonl.gz", "5"), ("e.jsonl.gz", "5")):
        run(tmp_path / name, "--preset", "tiny", "--seed", seed, "--malformed", "0.05")
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1] != digests[2]
    assert digests[3] == digests[4]


@PACKINGS
def test_truth_matches_the_latest_report_of_every_unit(tmp_path: Path, packing: tuple[str, ...]) -> None:
    out = tmp_path / "n.jsonl"
    truth = run(out, "--preset", "tiny", "--seed", "2", "--duplicates", "0.3", "--out-of-order", "0.3",
                "--corrections", "0.3", "--malformed", "0.1", *packing)
    totals: dict[str, Counter[str]] = {}
    for report in latest_reports(lines(out)).values():
        assert report.complete is True
        totals.setdefault(f"{report.key}/{report.mode}", Counter()).update(report.votes)
    assert set(totals) == set(truth["races"]) == {
        "2024-11-05/president/DE/live", "2024-11-05/senate/DE/live", "2024-11-05/president/NH/live"}
    for key, race in truth["races"].items():
        assert dict(totals[key]) == race["votes"]
        assert race["total_votes"] == sum(race["votes"].values())


@pytest.mark.parametrize(("options", "window"), [
    (("--seed", "3"), "60"),
    (("--seed", "4", "--malformed", "0.2", "--duplicates", "0.2"), "60"),
    (("--seed", "5", "--out-of-order", "0.3", "--corrections", "0.3"), "900"),
])
def test_the_truth_is_the_same_however_packed(tmp_path: Path, options: tuple[str, ...], window: str) -> None:
    run(tmp_path / "p.jsonl", "--preset", "tiny", *options, "--batch-window", window)
    run(tmp_path / "b.jsonl", "--preset", "tiny", *options, "--batch-window", window, "--per-race")
    run(tmp_path / "s.jsonl", "--preset", "tiny", *options, "--single")
    truths = [(tmp_path / f"{name}.jsonl.truth.json").read_bytes() for name in "pbs"]
    assert truths[0] == truths[1] == truths[2]
    assert len(lines(tmp_path / "p.jsonl")) < len(lines(tmp_path / "b.jsonl")) < len(lines(tmp_path / "s.jsonl"))


@PACKINGS
def test_records_are_in_time_order_and_follow_the_contract(tmp_path: Path, packing: tuple[str, ...]) -> None:
    out = tmp_path / "n.jsonl"
    run(out, "--preset", "tiny", *packing)
    recs = lines(out)
    assert [r["ts"] for r in recs] == sorted(r["ts"] for r in recs)
    topics = Counter(r["topic"] for r in recs)
    assert set(topics) == {"race-definitions", "expected-votes", "precinct-results"}
    for rec in recs:
        value = rec["value"]
        if rec["topic"] == "precinct-results":  # design rule 3: by state
            assert rec["key"] == f"{value['election_id']}/{value['state']}"
        else:
            assert rec["key"] == f"{value['election_id']}/{value['race_id']}/{value['state']}"
    defs = [r["value"] for r in recs if r["topic"] == "race-definitions"]
    assert all(d["simulated"] is True for d in defs)
    assert {d["polls_close"] for d in defs if d["state"] == "DE"} == {"2024-11-06T01:00:00Z"}  # 8 pm EST
    assert [d["certified"] for d in defs if d["race_id"] == "president" and d["state"] == "DE"] == [False, True]
    seqs = [r["value"]["seq"] for r in recs if r["topic"] == "expected-votes" and r["key"].endswith("president/DE")]
    assert seqs == sorted(seqs)
    assert len(seqs) >= 3
    schemas = {r["value"]["schema"] for r in recs if r["topic"] == "precinct-results"}
    assert schemas == {SCHEMAS[packing]}


@PACKINGS
def test_template_lines_are_exactly_what_orjson_writes(tmp_path: Path, packing: tuple[str, ...]) -> None:
    out = tmp_path / "n.jsonl"
    run(out, "--preset", "tiny", "--malformed", "0.2", *packing)
    for line in out.read_bytes().splitlines():
        assert orjson.dumps(orjson.loads(line)) == line


@pytest.mark.parametrize("window_s", [60, 300])
def test_a_batch_holds_one_race_and_one_window_and_goes_at_its_end(tmp_path: Path, window_s: int) -> None:
    out = tmp_path / "n.jsonl"
    run(out, "--preset", "tiny", "--seed", "6", "--duplicates", "0.2", "--out-of-order", "0.2",
        "--batch-window", str(window_s), "--per-race")
    window_ms, late = window_s * 1000, 0
    on_time: Counter[tuple[str, str, int]] = Counter()
    for rec in batches(lines(out)):
        value = rec["value"]
        assert rec["key"] == batching.record_key(value)
        assert value["mode"] == "live"
        windows = {contract.parse_time_ms(r["reported_at"], "reported_at") // window_ms for r in value["reports"]}
        assert len(windows) == 1  # every element's reported_at in one window...
        window_end = (windows.pop() + 1) * window_ms
        assert rec["ts"] % window_ms == 0  # ...and it goes at a window's end
        assert rec["ts"] >= window_end
        if rec["ts"] == window_end:
            on_time[(rec["key"], value["race_id"], window_end)] += 1
        else:
            late += 1  # re-sent or held-up reports, in a later poll
    assert max(on_time.values()) == 1  # one record per race and window (nothing here nears 1 MiB)
    assert late > 0


@pytest.mark.parametrize("window_s", [60, 300])
def test_a_poll_holds_one_state_and_one_window_and_goes_at_its_end(tmp_path: Path, window_s: int) -> None:
    out = tmp_path / "n.jsonl"
    run(out, "--preset", "tiny", "--seed", "6", "--duplicates", "0.2", "--out-of-order", "0.2",
        "--batch-window", str(window_s))
    window_ms, late, races = window_s * 1000, 0, Counter[int]()
    on_time: Counter[tuple[str, int]] = Counter()
    for rec in batches(lines(out), "state-poll/1"):
        value = rec["value"]
        assert rec["key"] == batching.record_key(value)
        windows = {contract.parse_time_ms(e["reported_at"], "reported_at") // window_ms for _, e in elements_of(value)}
        assert len(windows) == 1  # every element's reported_at in one window, every race of the state...
        window_end = (windows.pop() + 1) * window_ms
        assert rec["ts"] % window_ms == 0  # ...and it goes at a window's end
        races[len(value["races"])] += 1
        if rec["ts"] == window_end:
            on_time[(rec["key"], window_end)] += 1
        else:
            late += 1
    assert max(on_time.values()) == 1  # one record per state and window
    assert late > 0
    assert max(races) > 1  # DE's president and senate, polled together


@GROUPED
def test_every_report_of_a_window_goes_in_its_poll_or_batch_unless_it_is_late(tmp_path: Path,
                                                                              packing: tuple[str, ...]) -> None:
    """Without re-sends or held-up reports, polling is only packing: the polls (or batches) hold
    the single records' reports, race by race in ballot order, each race's in the order sent."""
    quiet = ("--preset", "tiny", "--seed", "7", "--duplicates", "0", "--out-of-order", "0")
    run(tmp_path / "b.jsonl", *quiet, *packing)
    run(tmp_path / "s.jsonl", *quiet, "--single")
    single = lines(tmp_path / "s.jsonl")
    ballot_order = list(dict.fromkeys(r["value"]["race_id"] for r in single if r["topic"] == "race-definitions"))
    expected: dict[tuple[str, ...], list[tuple[str, Any]]] = {}
    for rec in (r for r in single if r["topic"] == "precinct-results"):
        element = batching.batch_element(rec["value"], batching.batch_envelope(rec["value"]))
        place = (rec["key"], *((rec["value"]["race_id"],) if packing else ()))
        expected.setdefault((*place, (rec["ts"] // MINUTE_MS + 1) * MINUTE_MS), []).append(
            (rec["value"]["race_id"], element))
    for joined in expected.values():
        joined.sort(key=lambda pair: ballot_order.index(pair[0]))  # stable: each race's in the order sent
    got = {(r["key"], *((r["value"]["race_id"],) if packing else ()), r["ts"]): elements_of(r["value"])
           for r in batches(lines(tmp_path / "b.jsonl"), SCHEMAS[packing])}
    assert got == expected


def test_every_record_decodes_and_stays_within_the_record_limit(tmp_path: Path) -> None:
    out = tmp_path / "n.jsonl"
    run(out, "--preset", "tiny", "--seed", "8")
    decoders = {"race-definitions": contract.decode_race_definition, "expected-votes": contract.decode_expected_vote,
                "precinct-results": contract.decode_precinct_record}
    for rec in lines(out):
        raw = orjson.dumps(rec["value"])
        assert len(raw) <= contract.MAX_PAYLOAD_BYTES
        decoded_value = decoders[rec["topic"]](raw)
        if isinstance(decoded_value, PrecinctRecord):
            assert decoded_value.key == rec["key"]
            assert decoded_value.reports
            assert not decoded_value.refused


@GROUPED
def test_big_polls_and_batches_are_split_in_order_under_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  packing: tuple[str, ...]) -> None:
    run(tmp_path / "whole.jsonl", "--preset", "tiny", "--seed", "9", "--jobs", "1", *packing)
    monkeypatch.setattr(generate, "MAX_BATCH_BYTES", 300)  # room for one element: every longer record splits
    truth = run(tmp_path / "split.jsonl", "--preset", "tiny", "--seed", "9", "--jobs", "1", *packing)
    assert truth == orjson.loads((tmp_path / "whole.jsonl.truth.json").read_bytes())
    whole, split = lines(tmp_path / "whole.jsonl"), lines(tmp_path / "split.jsonl")
    schema = SCHEMAS[packing]
    assert all(len(orjson.dumps(r["value"])) <= 300 for r in batches(split, schema))
    assert len(batches(split, schema)) > len(batches(whole, schema))
    assert by_poll(split, schema) == by_poll(whole, schema)


def by_poll(recs: list[dict[str, Any]], schema: str) -> dict[tuple[str, int], list[Any]]:
    """The records' (race_id, element) by key and delivery time, in file order."""
    joined: dict[tuple[str, int], list[Any]] = {}
    for rec in batches(recs, schema):
        joined.setdefault((rec["key"], rec["ts"]), []).extend(elements_of(rec["value"]))
    return joined


@pytest.mark.parametrize("room", [1, 40, 95, 200, 10_000])
def test_split_by_size_cuts_where_the_shared_batcher_does(room: int) -> None:
    reports = [{"schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": "president", "state": "DE",
                "county_fips": "10001", "precinct_id": f"p{i}" * (1 + i % 5), "seq": 0,
                "reported_at": "2024-11-06T01:02:03Z", "votes": {"harris": i}, "complete": True} for i in range(30)]
    envelope = batching.batch_envelope(reports[0])
    elements = [orjson.dumps(batching.batch_element(r, envelope)) for r in reports]
    empty = len(orjson.dumps({**envelope, "reports": []}))
    if max(map(len, elements)) > room:
        with pytest.raises(ValueError, match="does not fit"):
            list(packaging.split_by_size(elements, room))
        return
    ours = [[orjson.loads(e) for e in chunk] for chunk in packaging.split_by_size(elements, room)]
    assert ours == [b["reports"] for b in batching.batch_records(reports, empty + room)]


@pytest.mark.parametrize("room", [1, 60, 130, 200, 10_000])
def test_split_poll_cuts_where_the_shared_poller_does(room: int) -> None:
    reports = [{"schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": f"race-{i // 7}",
                "state": "DE", "county_fips": "10001", "precinct_id": f"p{i}" * (1 + i % 5), "seq": 0,
                "reported_at": "2024-11-06T01:02:03Z", "votes": {"harris": i}, "complete": True} for i in range(30)]
    envelope = batching.poll_envelope(reports[0])
    entries: list[polls.Entry] = []
    for race_id in dict.fromkeys(r["race_id"] for r in reports):
        elements = [orjson.dumps({k: v for k, v in r.items() if k not in ("schema", "election_id", "race_id",
                                                                           "state")}) for r in reports
                    if r["race_id"] == race_id]
        entries.append((b'{"race_id":"%s","reports":[' % race_id.encode(), elements, b"]}"))
    empty = len(orjson.dumps({**envelope, "races": []}))
    try:
        shared = [poll["races"] for poll in batching.poll_records(reports, empty + room)]
    except InvalidRecord:
        with pytest.raises(ValueError, match="does not fit"):
            list(polls.split_poll(entries, room))
        return
    assert [orjson.loads(b"[" + b",".join(body) + b"]") for body in polls.split_poll(entries, room)] == shared


@PACKINGS
def test_malformed_reports_are_dead_letters_counted_in_the_truth(tmp_path: Path, packing: tuple[str, ...]) -> None:
    out = tmp_path / "n.jsonl"
    truth = run(out, "--preset", "tiny", "--malformed", "0.5", *packing)
    recs = lines(out)
    whole, elements = dead_letters(recs)
    assert whole + elements == truth["malformed_records"] > 50
    # A broken element never takes its good neighbours with it: every other report is applied.
    assert len(list(applied_in_order(recs))) == truth["reports"] - truth["malformed_records"]
    payloads = [r for r in recs if "payload" in r]
    assert all(r["topic"] == "precinct-results" and isinstance(r["payload"], str) for r in payloads)
    assert len(payloads) == whole  # every whole dead letter is a raw payload; nothing else is
    if packing == ("--single",):
        assert elements == 0
        texts = " ".join(r["payload"] for r in payloads)
        assert "NaN" in texts or "Infinity" in texts or '"mode":"rehearsal"' in texts
    else:
        assert whole > 10  # broken polls or batches...
        assert elements > 10  # ...and broken elements (and race entries) in good ones


def good_report(tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "good.jsonl"
    run(out, "--preset", "tiny", "--seed", "10", "--single")
    return next(r["value"] for r in lines(out) if r["topic"] == "precinct-results" and "value" in r)


@pytest.mark.parametrize("kind", malformed.KIND_NAMES)
def test_every_malformed_kind_is_refused_by_the_contract(tmp_path: Path, kind: str) -> None:
    good = good_report(tmp_path)
    contract.decode_precinct_record(orjson.dumps(good)).reports[0]
    with pytest.raises(InvalidRecord):
        contract.decode_precinct_record(malformed.KINDS[kind](good).encode())


@pytest.mark.parametrize("kind", list(malformed.ELEMENT_KINDS))
def test_every_malformed_element_kind_is_refused_alone(tmp_path: Path, kind: str) -> None:
    good = good_report(tmp_path)
    envelope = batching.batch_envelope(good)
    element = batching.batch_element(good, envelope)
    broken = malformed.ELEMENT_KINDS[kind](element, envelope)
    raw = b'%s,%s,%s]}' % (orjson.dumps({**envelope, "reports": [element]})[:-2], broken.encode(),
                           orjson.dumps(element))
    record = contract.decode_precinct_record(raw)
    assert [r.precinct_id for r in record.reports] == [good["precinct_id"]] * 2
    assert [refused.index for refused in record.refused] == ["1"]


@pytest.mark.parametrize("kind", list(malformed.BATCH_KINDS))
def test_every_malformed_batch_kind_is_refused_whole(tmp_path: Path, kind: str) -> None:
    good = good_report(tmp_path)
    envelope = batching.batch_envelope(good)
    batch = {**envelope, "reports": [batching.batch_element(good, envelope)]}
    contract.decode_precinct_record(orjson.dumps(batch))
    with pytest.raises(InvalidRecord):
        contract.decode_precinct_record(malformed.BATCH_KINDS[kind](batch).encode())


def good_poll(tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A poll of one good report, and its race entry."""
    good = good_report(tmp_path)
    race = {"race_id": good["race_id"], "reports": [batching.batch_element(good, batching.batch_envelope(good))]}
    return {**batching.poll_envelope(good), "races": [race]}, race


@pytest.mark.parametrize("kind", list(malformed.RACE_ENTRY_KINDS))
def test_every_malformed_race_entry_kind_is_refused_alone(tmp_path: Path, kind: str) -> None:
    poll, race = good_poll(tmp_path)
    broken = malformed.RACE_ENTRY_KINDS[kind](race)
    raw = b'%s,%s,%s]}' % (orjson.dumps(poll)[:-2], broken.encode(), orjson.dumps(race))
    record = contract.decode_precinct_record(raw)
    assert len(record.reports) == 2
    assert [refused.index for refused in record.refused] == ["1"]


@pytest.mark.parametrize("kind", list(malformed.POLL_KINDS))
def test_every_malformed_poll_kind_is_refused_whole(tmp_path: Path, kind: str) -> None:
    poll, _ = good_poll(tmp_path)
    contract.decode_precinct_record(orjson.dumps(poll))
    with pytest.raises(InvalidRecord):
        contract.decode_precinct_record(malformed.POLL_KINDS[kind](poll).encode())


@PACKINGS
def test_duplicates_out_of_order_and_corrections_are_present(tmp_path: Path, packing: tuple[str, ...]) -> None:
    out = tmp_path / "n.jsonl"
    run(out, "--preset", "tiny", "--seed", "9", "--duplicates", "0.2", "--out-of-order", "0.2", "--corrections", "0.2",
        *packing)
    seen: Counter[tuple[str, str, int]] = Counter()
    newest: dict[tuple[str, str], int] = {}
    votes: dict[tuple[str, str, int], dict[str, int]] = {}
    stale = 0
    for report in applied_in_order(lines(out)):
        unit = (report.key, report.precinct_id)
        seen[(*unit, report.seq)] += 1
        votes[(*unit, report.seq)] = report.votes
        stale += report.seq < newest.get(unit, -1)
        newest[unit] = max(newest.get(unit, -1), report.seq)
    corrected = [k for k, v in votes.items() if k[2] and sum(v.values()) < sum(votes[(k[0], k[1], k[2] - 1)].values())]
    assert max(seen.values()) > 1  # re-sent reports
    assert stale > 0  # a report delivered after a newer one
    assert corrected  # a count that went down


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
    states = list(generate.layout(generate.PRESETS["us"]))
    assert len(states) == 51
    assert 3_100 <= sum(c for _, c, _ in states) <= 3_200
    assert 175_000 <= sum(p for _, _, p in states) <= 180_000


@PACKINGS
def test_any_number_of_processes_writes_the_same_bytes(tmp_path: Path, packing: tuple[str, ...]) -> None:
    for name in ("n.jsonl", "n.jsonl.gz"):
        run(tmp_path / f"1-{name}", "--preset", "tiny", "--seed", "3", "--malformed", "0.05", "--jobs", "1", *packing)
        run(tmp_path / f"2-{name}", "--preset", "tiny", "--seed", "3", "--malformed", "0.05", "--jobs", "2", *packing)
        assert (tmp_path / f"1-{name}").read_bytes() == (tmp_path / f"2-{name}").read_bytes()


def test_gzip_holds_the_same_lines_with_no_timestamp(tmp_path: Path) -> None:
    run(tmp_path / "n.jsonl", "--preset", "tiny", "--seed", "4")
    run(tmp_path / "n.jsonl.gz", "--preset", "tiny", "--seed", "4")
    packed = (tmp_path / "n.jsonl.gz").read_bytes()
    assert packed[4:8] == b"\0\0\0\0"  # mtime 0 in the (first) member's header
    assert gzip.decompress(packed) == (tmp_path / "n.jsonl").read_bytes()


def test_help_names_the_packing_flags_which_exclude_each_other() -> None:
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    assert "[--batch-window SECONDS | --single]" in " ".join(parser.format_usage().split())
    for bad in (["--single", "--batch-window", "30"], ["--batch-window", "0"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["--out", "x.jsonl", *bad])


def test_the_progress_bar_draws_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run(tmp_path / "n.jsonl", "--preset", "tiny")
    assert "simulate" in terminal.getvalue()
    assert "records" in terminal.getvalue()
