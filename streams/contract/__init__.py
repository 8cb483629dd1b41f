"""The wire contract (docs/CONTRACT.md): the topics, the messages on them, and the files that record them.

`messages` holds the topic names, the message types and their decoders; `validation` the field
rules they are decoded by; `batching` packs reports into `state-poll/1` and `precinct-batch/1`
records; `calls` holds the `race-call/1` message of the desk's race calls, and `race_rules` the
optional fields of a definition that say how a race is won; `deadletter` says on a dead letter
where it came from and why it was refused; `recording` reads and writes the JSON Lines files
that `votewire record` writes and `votewire replay` reads, one `OutRecord` a line. What other
packages need of the messages is re-exported here (`from streams import contract;
contract.PRECINCT_RESULTS`); the rest is imported from its module.
"""

from streams.contract.calls import (
    CALL_STATUSES,
    RACE_CALL_SCHEMA,
    RACE_CALLS,
    RaceCall,
    decode_race_call,
    race_call_key,
    race_call_value,
)
from streams.contract.messages import (
    ALERT_TYPES,
    BASELINES,
    COUNTY_RESULTS,
    DEAD_LETTERS,
    EXPECTED_VOTE_SCHEMA,
    EXPECTED_VOTES,
    MAX_COUNT,
    MAX_PAYLOAD_BYTES,
    MODES,
    PRECINCT_BATCH_SCHEMA,
    PRECINCT_RESULT_SCHEMA,
    PRECINCT_RESULTS,
    RACE_DEFINITION_SCHEMA,
    RACE_DEFINITIONS,
    RESULTS_ALERTS,
    STATE_POLL_SCHEMA,
    STATE_RESULTS,
    Alert,
    AlertType,
    Candidate,
    ExpectedVote,
    Mode,
    PrecinctRecord,
    PrecinctReport,
    PreviousResult,
    RaceDefinition,
    RefusedElement,
    TallyKey,
    decode_expected_vote,
    decode_object,
    decode_precinct_record,
    decode_race_definition,
    parse_time_ms,
    race_key,
    state_key,
)

__all__ = [
    # the alert types an `alert/1` can carry
    "ALERT_TYPES",
    # topics (unprefixed names), and a race call's statuses
    "BASELINES",
    "CALL_STATUSES",
    "COUNTY_RESULTS",
    "DEAD_LETTERS",
    "EXPECTED_VOTES",
    # message schemas and limits
    "EXPECTED_VOTE_SCHEMA",
    "MAX_COUNT",
    "MAX_PAYLOAD_BYTES",
    "MODES",
    "PRECINCT_BATCH_SCHEMA",
    "PRECINCT_RESULTS",
    "PRECINCT_RESULT_SCHEMA",
    "RACE_CALLS",
    "RACE_CALL_SCHEMA",
    "RACE_DEFINITIONS",
    "RACE_DEFINITION_SCHEMA",
    "RESULTS_ALERTS",
    "STATE_POLL_SCHEMA",
    "STATE_RESULTS",
    # messages
    "Alert",
    "AlertType",
    "Candidate",
    "ExpectedVote",
    "Mode",
    "PrecinctRecord",
    "PrecinctReport",
    "PreviousResult",
    "RaceCall",
    "RaceDefinition",
    "RefusedElement",
    "TallyKey",
    # decoding
    "decode_expected_vote",
    "decode_object",
    "decode_precinct_record",
    "decode_race_call",
    "decode_race_definition",
    "parse_time_ms",
    "race_call_key",
    "race_call_value",
    "race_key",
    "state_key",
]
