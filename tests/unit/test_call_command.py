"""`votewire call`: its arguments make the race-call/1 record the worker takes, or one clear line."""

from __future__ import annotations

import pytest

from streams.cli import build_parser
from streams.commands.call import parse_call
from streams.contract import RaceCall
from streams.errors import ConfigError


def call_of(*argv: str) -> RaceCall:
    return parse_call(build_parser().parse_args(["call", *argv]))


def test_a_winner_a_runoff_and_a_retraction() -> None:
    won = call_of("2024-11-05/senate/MN", "--winner", "klobuchar", "--by", "Star Tribune desk",
                  "--at", "2024-11-06T02:00:05Z", "--seq", "7")
    assert (won.race, won.mode, won.status, won.winners, won.by, won.at, won.seq) == (
        "2024-11-05/senate/MN", "live", "called", ("klobuchar",), "Star Tribune desk", "2024-11-06T02:00:05Z", 7)
    assert call_of("2024-11-05/senate/GA", "--runoff", "ossoff, perdue").winners == ("ossoff", "perdue")
    two = call_of("2024-11-05/commission-13121/GA", "--winner", "ortiz", "--winner", "lee", "--mode", "test")
    assert (two.winners, two.mode) == (("ortiz", "lee"), "test")
    retracted = call_of("2024-11-05/senate/MN", "--retract")
    assert (retracted.status, retracted.winners, retracted.by) == ("retracted", (), "desk")
    assert call_of("2024-11-05/senate/MN", "--too-close").status == "too_close"


def test_by_default_a_later_call_has_a_higher_seq() -> None:
    first, second = call_of("e/r/MN", "--retract"), call_of("e/r/MN", "--winner", "x")
    assert second.seq >= first.seq > 1_700_000_000_000  # now, in ms


@pytest.mark.parametrize(
    ("argv", "line"),
    [(["MN-senate", "--winner", "x"], "RACE_KEY 'MN-senate' is not ELECTION_ID/RACE_ID/STATE"),
     (["e//MN", "--winner", "x"], "RACE_KEY 'e//MN' is not ELECTION_ID/RACE_ID/STATE"),
     (["e/r/MN", "--runoff", "ossoff"], "a runoff call names at least 2"),
     (["e/r/MN", "--winner", "x", "--winner", "x"], "winners names a candidate twice"),
     (["e/r/MN", "--winner", "x", "--at", "tonight"], "at is \"tonight\", not an RFC 3339 time"),
     (["e/r/MN", "--winner", "x", "--by", ""], "by is empty")],
)
def test_a_bad_call_is_one_clear_line(argv: list[str], line: str) -> None:
    with pytest.raises(ConfigError) as refused:
        call_of(*argv)
    assert line in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_verbs_help_explains_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["call", "--help"])
    text = capsys.readouterr().out
    assert "race_called, call_changed, call_retracted" in text
    assert "votewire call 2024-11-05/senate/MN --retract" in text
