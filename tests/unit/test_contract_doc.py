"""docs/CONTRACT.md against the code: the document newsroom systems build against cannot drift.

Every name is read from the code that sends or enforces it (topic constants, the alert types
the alert builder accepts, the dead-letter headers, the schemas in `schemas/`), never from a
list kept here, so a new alert type, topic, header or schema fails this test until the
document describes it; and an alert type the document lists that the code cannot emit fails
it too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from streams import contract
from streams.contract import deadletter, validation
from streams.kafka.topics import CONTRACT_TOPICS

REPO = Path(__file__).resolve().parents[2]
CONTRACT_DOC = REPO / "docs" / "CONTRACT.md"
SCHEMAS = sorted((REPO / "schemas").glob("*.schema.json"))
TOPICS = tuple(spec.name for spec in CONTRACT_TOPICS)  # every topic the worker's topic check knows
HEADERS = (deadletter.ERROR_HEADER, deadletter.REASON_HEADER, deadletter.SOURCE_HEADER, deadletter.INDEX_HEADER)


def doc() -> str:
    return CONTRACT_DOC.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text under a `## title` heading, up to the next heading of that level."""
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", doc(), re.MULTILINE | re.DOTALL)
    assert found is not None, f"docs/CONTRACT.md has no '## {title}' section"
    return found.group(1)


def alert_rows() -> list[str]:
    """The alert types the document's table describes: the first cell of each row."""
    return re.findall(r"^\| `([a-z_]+)` \|", section("Alerts"), re.MULTILINE)


def test_the_alert_table_describes_every_type_the_code_can_emit_and_no_other() -> None:
    assert sorted(alert_rows()) == sorted(contract.ALERT_TYPES)


def test_the_alert_schema_lists_the_same_types() -> None:
    schema = json.loads((REPO / "schemas" / "alert.schema.json").read_text(encoding="utf-8"))
    assert sorted(schema["properties"]["type"]["examples"]) == sorted(contract.ALERT_TYPES)


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_schema_is_linked_and_its_message_described(path: Path) -> None:
    text = doc()
    assert f"(../schemas/{path.name})" in text, f"docs/CONTRACT.md does not link schemas/{path.name}"
    schema_field = json.loads(path.read_text(encoding="utf-8")).get("properties", {}).get("schema", {})
    if "const" in schema_field:  # a message (a recording line has no schema field)
        assert f"`schema: \"{schema_field['const']}\"`" in text


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_has_a_row_in_the_topics_table(topic: str) -> None:
    assert re.search(rf"^\| `{re.escape(topic)}` \|", section("Topics"), re.MULTILINE)


@pytest.mark.parametrize("header", HEADERS)
def test_every_dead_letter_header_is_described(header: str) -> None:
    assert f"`{header}`" in section("Dead letters")


def test_the_limits_are_the_codes() -> None:
    limits = section("Limits")
    written = [f"{validation.MAX_PAYLOAD_BYTES:,} bytes", f"2^{validation.MAX_COUNT.bit_length() - 1}",
               f"2^{validation.MAX_SEQ.bit_length()}-1"]
    written += [f"{limit:,}" for limit in (validation.MAX_DEPTH, validation.MAX_ID_CHARS, validation.MAX_TEXT_CHARS,
                                           validation.MAX_BATCH_REPORTS, validation.MAX_ENTRIES)]
    assert [figure for figure in written if figure not in limits] == []
