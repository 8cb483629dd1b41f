"""The JSON Schemas in `schemas/` and the code's validators, checked against the same examples.

For every input example the schema's verdict must equal the code's, so the two cannot drift;
an invalid example is named `<kind>--<what>.json` after the `votewire-error` class the code
must give it. Examples are JSON documents, so the rules about bytes (over 1 MiB, not JSON,
NaN/Infinity) are tested in test_contract.py. Output and recording-line examples are checked
by the schemas alone: their producers are tested against these schemas where they are built.

A `precinct-batch/1` (and a `state-poll/1`) is judged twice over. The code refuses a batch whole only when the batch
itself breaks a rule (`invalid/`, named like the others); a bad *element* is refused alone
while the rest are applied. A JSON Schema can only say yes or no to a whole document, so it
calls such a batch invalid. Those examples live in `valid-with-refused-elements/`, named
`<kind>--<what>--refused-<i>[-<j>...].json`: the code must decode the batch, refuse exactly
the elements at those indexes (each with that kind, its reason naming `reports[i]`) and keep
the others in order; the schema must call the whole document invalid. A poll's examples name
`votewire-index` values: `i` for a refused race entry (`races[i]`), `i.j` for a refused element
(`races[i].reports[j]`). One rule of elements
the schema cannot state at all, an element's `election_id`, `race_id` or `state` differing
from its batch's (a schema cannot compare with a parent's value): for those examples the
schema says valid (SCHEMA_CANNOT_EXPRESS), and the test checks exactly that.

Times are checked by the schemas' `pattern`, not `format: date-time`: in 2020-12 a format is
only an annotation unless the validator opts in, and jsonschema's date-time check silently
does nothing without an optional package; a pattern gives the same verdict everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from streams import contract
from streams.errors import InvalidRecord
from streams.model.baselines import BASELINE_SCHEMA, decode_baseline

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
EXAMPLES = SCHEMAS / "examples"

DECODERS: dict[str, Callable[[bytes], object]] = {
    "precinct-result": contract.decode_precinct_record,
    "precinct-batch": contract.decode_precinct_record,
    "state-poll": contract.decode_precinct_record,
    "expected-vote": contract.decode_expected_vote,
    "race-definition": contract.decode_race_definition,
    "race-call": contract.decode_race_call,
    "baseline": decode_baseline,
}
REFUSED_ELEMENTS = "valid-with-refused-elements"  # see the module's docstring
OUTPUTS = ("state-result", "county-result", "alert", "recording-line")
SCHEMA_FIELD = {
    "precinct-result": contract.PRECINCT_RESULT_SCHEMA,
    "precinct-batch": contract.PRECINCT_BATCH_SCHEMA,
    "state-poll": contract.STATE_POLL_SCHEMA,
    "expected-vote": contract.EXPECTED_VOTE_SCHEMA,
    "race-definition": contract.RACE_DEFINITION_SCHEMA,
    "race-call": contract.RACE_CALL_SCHEMA,
    "baseline": BASELINE_SCHEMA,
    "state-result": "state-result/1",
    "county-result": "county-result/1",
    "alert": "alert/1",
}

# Rules the code enforces that JSON Schema cannot state. For these examples the schema says
# valid and the code says invalid, and the test checks exactly that instead of skipping them.
SCHEMA_CANNOT_EXPRESS = {
    # JSON Schema's "integer" is any number with a zero fraction, so 812.0 passes. The code
    # refuses it: a count written with a decimal point comes from float arithmetic upstream.
    "precinct-result/invalid/bad_count--integer-valued-float-count.json": "812.0 is an integer to JSON Schema",
    "expected-vote/invalid/bad_count--integer-valued-float-expected-votes.json": "3300000.0 likewise",
    # A pattern checks a time's shape, not the calendar.
    "precinct-result/invalid/bad_time--no-such-month.json": "month 13 has the right shape",
    # uniqueItems compares whole items; unique candidate_id across items cannot be said.
    "race-definition/invalid/duplicate_id--same-candidate-twice.json": "one property unique across items",
    # An element's ids must equal its batch's: no keyword compares with a parent's value.
    f"precinct-batch/{REFUSED_ELEMENTS}/batch_mismatch--element-of-another-state--refused-1.json": "a parent's value",
    f"precinct-batch/{REFUSED_ELEMENTS}/batch_mismatch--element-of-another-race--refused-0.json": "likewise",
    # As for a single report: 812.0 is an integer to JSON Schema, and the only bad element here.
    f"precinct-batch/{REFUSED_ELEMENTS}/bad_count--integer-valued-float-count--refused-0.json": "812.0",
    f"state-poll/{REFUSED_ELEMENTS}/batch_mismatch--element-of-another-race--refused-0.1.json": "a parent's value",
    # A row's length must be one more than `parties`' and its party votes at most its total:
    # no keyword compares an array's length or sum with another field.
    "baseline/invalid/bad_unit--row-too-short.json": "a length compared with another field's",
    "baseline/invalid/votes_exceed_total--parties-over-total.json": "a sum compared with an item",
}


def schema_for(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    return loaded


def examples(names: tuple[str, ...] | list[str], verdicts: tuple[str, ...] = ("valid", "invalid")) -> list[Path]:
    return sorted(path for name in names for verdict in verdicts for path in (EXAMPLES / name / verdict).glob("*.json"))


def example_id(path: Path) -> str:
    return path.relative_to(EXAMPLES).as_posix()


def code_refusal(name: str, raw: bytes) -> InvalidRecord | None:
    """The code's refusal of the whole record, or None. A batch decoded with a refused element
    is not "valid": the test for its folder says how it must be refused."""
    try:
        decoded = DECODERS[name](raw)
    except InvalidRecord as error:
        return error
    assert not getattr(decoded, "refused", None), "an element was refused: the example belongs in " + REFUSED_ELEMENTS
    return None


def refused_indexes(path: Path) -> list[str]:
    """`bad_count--what--refused-0-2.json` -> ["0", "2"]; `...--refused-1-0.2.json` -> ["1", "0.2"]."""
    return path.stem.split("--")[-1].removeprefix("refused-").split("-")


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.schema.json")), ids=lambda p: p.name)
def test_every_schema_is_a_valid_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_contract_message_has_a_schema_and_several_examples_each_way() -> None:
    names = [*DECODERS, *OUTPUTS]
    assert sorted(p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")) == sorted(names)
    for name in names:
        assert len(list((EXAMPLES / name / "valid").glob("*.json"))) >= 2, name
        assert len(list((EXAMPLES / name / "invalid").glob("*.json"))) >= 4, name
    assert len(examples(["precinct-batch"], (REFUSED_ELEMENTS,))) >= 4
    assert len(examples(["state-poll"], (REFUSED_ELEMENTS,))) >= 4
    folders = {p.parent.name for p in EXAMPLES.glob("*/*/*.json")}
    assert folders == {"valid", "invalid", REFUSED_ELEMENTS}, "an example in a folder no test reads"
    assert {p.parent.parent.name for p in EXAMPLES.glob(f"*/{REFUSED_ELEMENTS}/*.json")} == {"precinct-batch",
                                                                                              "state-poll"}


@pytest.mark.parametrize("name", sorted(SCHEMA_FIELD))
def test_each_schema_fixes_the_messages_schema_field(name: str) -> None:
    assert schema_for(name)["properties"]["schema"] == {"const": SCHEMA_FIELD[name]}


def test_the_schemas_count_limit_is_the_codes() -> None:
    count = schema_for("precinct-result")["$defs"]["count"]
    assert (count["minimum"], count["maximum"]) == (0, contract.MAX_COUNT)


@pytest.mark.parametrize("path", examples(list(DECODERS)), ids=example_id)
def test_schema_and_code_give_an_input_example_the_same_verdict(path: Path) -> None:
    name, verdict = path.parent.parent.name, path.parent.name
    raw = path.read_bytes()
    schema_says_valid = Draft202012Validator(schema_for(name)).is_valid(json.loads(raw))
    refusal = code_refusal(name, raw)

    if verdict == "valid":
        assert refusal is None, refusal
    else:
        assert refusal is not None, "the code accepts an invalid example"
        assert refusal.kind == path.stem.split("--")[0], refusal.reason
    if example_id(path) in SCHEMA_CANNOT_EXPRESS:
        assert schema_says_valid, "the schema now states this rule: drop it from SCHEMA_CANNOT_EXPRESS"
    else:
        assert schema_says_valid == (refusal is None)


@pytest.mark.parametrize("path", examples(["precinct-batch", "state-poll"], (REFUSED_ELEMENTS,)), ids=example_id)
def test_a_batch_or_poll_with_bad_elements_is_decoded_with_exactly_those_refused(path: Path) -> None:
    raw = path.read_bytes()
    value = json.loads(raw)
    name, kind, indexes = path.parent.parent.name, path.stem.split("--")[0], refused_indexes(path)

    record = contract.decode_precinct_record(raw)  # the record itself is good: no InvalidRecord
    assert record.key == f"{value['election_id']}/{value['state']}"
    assert [r.index for r in record.refused] == indexes
    for refused in record.refused:
        where, item = refused_place(value, refused.index)
        assert refused.error.kind == kind, refused.error.reason
        assert refused.error.reason.startswith(f"{where}: ")
        assert refused.value == orjson.dumps(item)
    assert [(r.race_id, r.precinct_id) for r in record.reports] == kept_units(value, indexes)
    schema_says_valid = Draft202012Validator(schema_for(name)).is_valid(value)
    assert schema_says_valid == (example_id(path) in SCHEMA_CANNOT_EXPRESS)


def race_entries(value: dict[str, Any]) -> list[Any]:
    """A poll's race entries; a batch as a poll of one race (its index has no `i.` then)."""
    return value["races"] if "races" in value else [{"race_id": value["race_id"], "reports": value["reports"]}]


def refused_place(value: dict[str, Any], index: str) -> tuple[str, object]:
    """Where `index` (`votewire-index`) points in a batch or a poll: the reason's prefix, the item."""
    if "races" not in value:
        return f"reports[{index}]", value["reports"][int(index)]
    i, _, j = index.partition(".")
    race = value["races"][int(i)]
    return (f"races[{i}]", race) if not j else (f"races[{i}].reports[{j}]", race["reports"][int(j)])


def kept_units(value: dict[str, Any], indexes: list[str]) -> list[tuple[str, str]]:
    """(race_id, precinct_id) of every element not refused, nor in a refused race entry, in order."""
    prefix = "{}." if "races" in value else ""
    return [(race["race_id"], item["precinct_id"]) for i, race in enumerate(race_entries(value))
            if str(i) not in indexes or not prefix
            for j, item in enumerate(race["reports"]) if prefix.format(i) + str(j) not in indexes]


def test_a_poll_element_has_the_rules_of_a_batch_element() -> None:
    # Written out in both schemas (a validator resolves no other file): this keeps them equal.
    batch, poll = schema_for("precinct-batch"), schema_for("state-poll")
    assert poll["$defs"]["report"]["properties"] == batch["$defs"]["report"]["properties"]
    assert poll["$defs"]["report"]["required"] == batch["$defs"]["report"]["required"]
    assert {k: v for k, v in poll["$defs"].items() if k not in ("report", "race")} == {
        k: v for k, v in batch["$defs"].items() if k != "report"}
    assert poll["$defs"]["race"]["properties"]["reports"] == batch["properties"]["reports"]
    assert poll["required"] == ["schema", "election_id", "state", "races"]


def test_a_batch_element_has_the_rules_of_a_precinct_result() -> None:
    # Written out in both schemas (a validator resolves no other file): this keeps them equal.
    single, batch = schema_for("precinct-result"), schema_for("precinct-batch")
    element = batch["$defs"]["report"]
    assert element["properties"] == single["properties"] | {"mode": {"$ref": "#/$defs/mode"}}
    assert element["required"] == [name for name in single["required"]
                                   if name not in ("schema", "election_id", "race_id", "state")]
    assert {k: v for k, v in batch["$defs"].items() if k != "report"} == single["$defs"]
    assert batch["required"] == ["schema", "election_id", "race_id", "state", "reports"]


def test_every_known_gap_names_an_existing_example() -> None:
    assert all((EXAMPLES / gap).is_file() for gap in SCHEMA_CANNOT_EXPRESS)


@pytest.mark.parametrize("path", examples(OUTPUTS), ids=example_id)
def test_an_output_example_gets_the_verdict_of_its_folder(path: Path) -> None:
    name, verdict = path.parent.parent.name, path.parent.name
    errors = list(Draft202012Validator(schema_for(name)).iter_errors(json.loads(path.read_bytes())))
    assert (not errors) == (verdict == "valid"), [e.message for e in errors]


def test_a_county_result_has_the_state_result_fields_plus_county_fips() -> None:
    state, county = schema_for("state-result"), schema_for("county-result")
    # The one field that differs: a state's precincts_total comes from the race definition, a
    # county's from its own units, which may not give one. The list of counties with the most
    # vote still out belongs to the state, and so do the race's call and status and the model's
    # race-wide figures.
    model = tuple(name for name in state["properties"] if name.startswith("model_"))
    differ = ("schema", "county_fips", "precincts_total", "counties_outstanding", "call", "tabulation_status",
              "win_threshold", "uncontested", *model)

    assert county["required"] == [*state["required"], "county_fips"]
    county_fields = {k: v for k, v in county["properties"].items() if k not in differ}
    assert county_fields == {k: v for k, v in state["properties"].items() if k not in differ}
    assert county["properties"]["precincts_total"]["anyOf"] == [{"$ref": "#/$defs/count"}, {"type": "null"}]


@pytest.mark.parametrize("time", ["2024-11-05T20:00Z", "2024-11-05 20:00:00Z", "20241105T200000Z"])
def test_the_code_reads_more_time_forms_than_the_schema_asks_for(time: str) -> None:
    # On purpose: producers must send RFC 3339 (the schema), but the code accepts what the
    # reference checker accepts, so that dead-letter counts match it (see streams/contract/messages.py).
    time_rule = Draft202012Validator(schema_for("precinct-result")["$defs"]["time"])
    assert not time_rule.is_valid(time)
    assert contract.parse_time_ms(time, "reported_at") == 1_730_836_800_000
