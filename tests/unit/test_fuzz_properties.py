"""Hypothesis on every parser of outside input: each input gets a verdict, never a crash.

A validator returns its message or raises `InvalidRecord` (a dead letter); the recording parser
returns a `RecordedLine` or a `BadLine`; an adapter yields records or reports `SourceError`
(raised, or handed to its error sink). Anything else (KeyError, TypeError, RecursionError,
OverflowError, ...) fails the test. Inputs are valid messages and source files with hostile
edits, so that most of them get past the first check. What this found is in faults/FUZZING.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faults.fuzz_decoder import BATCH, DEFINITION, EXPECTED, LINE, REPORT
from streams import contract
from streams.adapters import ap, clarity, mn_sos, openelections
from streams.contract import recording
from streams.contract.recording import OutRecord
from streams.errors import InvalidRecord, SourceError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# VOTEWIRE_FUZZ_EXAMPLES=5000 for a longer hunt than the unit run's.
FUZZ = settings(max_examples=int(os.environ.get("VOTEWIRE_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=12) | st.sampled_from(["", "2024-11-06T02:10:00Z", "live", "test", "x" * 300]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every list and dict inside `value`, its own included."""
    if isinstance(value, dict | list):
        yield path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            yield from containers(child, (*path, key))


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def mutated(draw: st.DrawFn, template: Any, edits: int = 3) -> Any:
    """`template` with up to `edits` fields replaced by any JSON value, or deleted."""
    doc = orjson.loads(orjson.dumps(template))
    for _ in range(draw(st.integers(1, edits))):
        where = at(doc, draw(st.sampled_from(list(containers(doc)))))
        if not where:
            continue
        key = draw(st.sampled_from(list(where) if isinstance(where, dict) else range(len(where))))
        if isinstance(where, dict) and draw(st.booleans()) and draw(st.booleans()):
            del where[key]
        else:
            where[key] = draw(json_values)
    return doc


def as_json(doc: Any) -> bytes:
    """JSON text for `doc`; the stdlib writes integers past 64 bits, which orjson refuses to."""
    return json.dumps(doc).encode()


def gets_a_verdict(decode: Callable[[bytes], object], raw: bytes) -> None:
    with contextlib.suppress(InvalidRecord):
        decode(raw)


@FUZZ
@given(mutated(REPORT) | mutated(BATCH, 5))
def test_precinct_records_get_a_verdict(doc: Any) -> None:
    gets_a_verdict(contract.decode_precinct_record, as_json(doc))


@FUZZ
@given(mutated(DEFINITION, 5))
def test_race_definitions_get_a_verdict(doc: Any) -> None:
    gets_a_verdict(contract.decode_race_definition, as_json(doc))


@FUZZ
@given(mutated(EXPECTED))
def test_expected_votes_get_a_verdict(doc: Any) -> None:
    gets_a_verdict(contract.decode_expected_vote, as_json(doc))


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_get_a_verdict_from_every_decoder(raw: bytes) -> None:
    for decode in (contract.decode_precinct_record, contract.decode_race_definition, contract.decode_expected_vote):
        gets_a_verdict(decode, raw)


@FUZZ
@given(mutated(LINE, 4) | st.binary(max_size=200).map(lambda b: {"raw": b.decode("latin-1")}))
def test_recording_lines_parse_or_are_bad_lines(doc: Any) -> None:
    line = doc["raw"] if set(doc) == {"raw"} else as_json(doc).decode()
    assert isinstance(recording.parse_line(7, line), recording.RecordedLine | recording.BadLine)


# --- Adapters: a source file with hostile edits yields records or a SourceError ---------------

def adapter_records(module: Any, argv: list[str]) -> list[OutRecord]:
    """The adapter's records as its CLI runs them; SourceError (the documented refusal) is caught."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(SourceError):
        return list(module.records(parser.parse_args(argv)))
    return []


@st.composite
def edited_text(draw: st.DrawFn, text: str, alphabet: str) -> str:
    """`text` with up to four spans replaced by text of `alphabet` (the format's own syntax)."""
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        text = text[:start] + draw(st.text(alphabet=alphabet, max_size=12)) + text[end:]
    return text


def in_file(name: str, content: str | bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
        yield path


AP_DOC = orjson.loads((FIXTURES / "ap" / "20121106_ak_prez.json").read_bytes())


@FUZZ
@given(mutated(AP_DOC, 4))
def test_ap_responses_yield_records_or_a_source_error(doc: Any) -> None:
    for path in in_file("ap.json", as_json(doc)):
        adapter_records(ap, [str(path)])


CLARITY_XML = (FIXTURES / "clarity" / "county.xml").read_text()


@FUZZ
@given(edited_text(CLARITY_XML, '<>/="&;# 0123456789-.:AMPax\u00e9\x00'))
def test_clarity_files_yield_records_or_a_source_error(xml: str) -> None:
    for path in in_file("detail.xml", xml):
        adapter_records(clarity, [str(path), "--state", "AR"])


OPENELECTIONS_CSV = "\n".join((FIXTURES / "openelections" / "20201103__de__general__county.csv")
                              .read_text().splitlines()[:15])


@FUZZ
@given(edited_text(OPENELECTIONS_CSV, ',"\n\r 0123456789-abcTotal\u00e9\ufeff'))
def test_openelections_files_yield_records_or_a_source_error(csv_text: str) -> None:
    for path in in_file("20201103__de__general__county.csv", csv_text):
        adapter_records(openelections, [str(path)])


MEDIA_LINE = "MN;01;;;U.S. President;;0101;Kamala D. Harris;;;DFL;9;9;5000;55.1;9100"


@FUZZ
@given(edited_text(MEDIA_LINE, ";0123456789 -.x\u00e9\u0663\u00b2"))
def test_mn_sos_media_lines_parse_or_raise_value_error(line: str) -> None:
    """`parse_media_line`'s documented refusal is ValueError, which `read_media_file` reports as SourceError."""
    with contextlib.suppress(ValueError):
        mn_sos.parse_media_line(line)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage;;;", b"MN;" + b"9" * 5000 + b";" * 14, b""])
def test_mn_sos_media_files_report_bad_lines_as_source_errors(content: bytes) -> None:
    errors: list[SourceError] = []
    for path in in_file("media.txt", content):
        mn_sos.read_media_file(path, errors.append)
    assert all(isinstance(e, SourceError) for e in errors)
