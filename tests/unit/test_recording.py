"""Recording files: every line kind of the contract, kcat dumps, bad lines, gzip, round trip."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from streams.contract.recording import (
    BadLine,
    OutRecord,
    RecordedLine,
    RecordingReader,
    RecordingWriter,
    parse_line,
)
from tests.support.recordings import read_lines

KCAT_LINE = ('{"topic":"precinct-results","partition":0,"offset":5,"tstype":"create","ts":1730851800000,'
             '"broker":1,"key":"2024-11-05/president/MN","payload":"{\\"a\\":  1}"}')


def test_a_value_line_is_sent_as_compact_json() -> None:
    line = parse_line(1, '{"ts": 5, "topic": "t", "key": "k", "value": {"a": [1, 2]}}')
    assert line == RecordedLine(1, 5, "t", "k", b'{"a":[1,2]}')


def test_a_kcat_json_line_replays_its_payload_verbatim() -> None:
    line = parse_line(7, KCAT_LINE)
    assert line == RecordedLine(7, 1730851800000, "precinct-results", "2024-11-05/president/MN", b'{"a":  1}')


def test_a_null_payload_is_a_tombstone_and_a_null_key_is_kept() -> None:
    assert parse_line(1, '{"ts": 1, "topic": "t", "key": null, "payload": null}') == RecordedLine(1, 1, "t", None, None)


@pytest.mark.parametrize(("text", "reason"), [
    ('{"ts": 1, "topic": "t"', "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"ts": "1", "topic": "t", "value": 1}', "'ts' must be an integer"),
    ('{"ts": true, "topic": "t", "value": 1}', "'ts' must be an integer"),
    ('{"ts": 1, "topic": "", "value": 1}', "'topic' must be a non-empty string"),
    ('{"ts": 1, "topic": "t", "key": 5, "value": 1}', "'key' must be a string or null"),
    ('{"ts": 1, "topic": "t", "payload": 5}', "'payload' must be a string"),
    ('{"ts": 1, "topic": "t", "key": "k"}', "neither 'value' nor 'payload'"),
])
def test_bad_lines_say_why(text: str, reason: str) -> None:
    bad = parse_line(3, text)
    assert isinstance(bad, BadLine)
    assert bad.line_no == 3
    assert reason in bad.reason


def test_bad_utf8_is_one_bad_line_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"ts": 1, "topic": "t", "payload": "\xff"}\n{"ts": 2, "topic": "t", "value": 1}\n')
    lines = read_lines(path)
    assert isinstance(lines[0], BadLine)
    assert lines[1] == RecordedLine(2, 2, "t", None, b"1")


def test_blank_lines_are_skipped_but_line_numbers_stay_true(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('\n{"ts": 1, "topic": "t", "value": 1}\r\n\nnope\n')
    lines = read_lines(path)
    assert [type(x).__name__ for x in lines] == ["RecordedLine", "BadLine"]
    assert [x.line_no for x in lines] == [2, 4]


def test_writer_and_reader_round_trip_gzip_with_progress(tmp_path: Path) -> None:
    path = tmp_path / "night.jsonl.gz"
    with RecordingWriter(path) as writer:
        writer.write(OutRecord(10, "race-definitions", "k", {"é": 1}))
        writer.write_payload(11, "precinct-results", None, '{"raw":  true}')
        writer.write_payload(12, "expected-votes", "k", None)
    assert writer.count == 3
    assert gzip.decompress(path.read_bytes()).count(b"\n") == 3
    with RecordingReader(path) as reader:
        assert reader.fraction_read < 1.0 or reader.size < 100
        lines = list(reader)
        assert reader.fraction_read == 1.0
    assert lines == [RecordedLine(1, 10, "race-definitions", "k", orjson.dumps({"é": 1})),
                     RecordedLine(2, 11, "precinct-results", None, b'{"raw":  true}'),
                     RecordedLine(3, 12, "expected-votes", "k", None)]


def test_gzip_recordings_are_reproducible(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        with RecordingWriter(tmp_path / name / "n.jsonl.gz") as writer:
            writer.write(OutRecord(1, "t", "k", {"v": 1}))
    assert (tmp_path / "a" / "n.jsonl.gz").read_bytes() == (tmp_path / "b" / "n.jsonl.gz").read_bytes()


def test_the_bundled_night_reads_without_a_bad_line() -> None:
    bundled = Path(__file__).resolve().parents[2] / "streams" / "data" / "mn-2024-general.jsonl.gz"
    lines = read_lines(bundled)
    assert not [x for x in lines if isinstance(x, BadLine)]
    assert len(lines) == 54  # 48 of them state-poll/1 records (streams/data/README.md)
