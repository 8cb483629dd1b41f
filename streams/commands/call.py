"""`votewire call RACE_KEY --winner ID [--by NAME]`: the desk calls a race, or retracts its call.

One `race-call/1` record to `race-calls` (streams.contract.calls), sent by the producer every
command writes with (streams.kafka.producer), logged in as the desk (the usual VOTEWIRE_SASL_*
settings: only the desk's credential may write race calls).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from streams import contract
from streams.commands.base import DONE
from streams.contract.calls import CallStatus, parse_race_call
from streams.contract.recording import OutRecord
from streams.errors import ConfigError, InvalidRecord
from streams.kafka.producer import produce_records
from streams.settings import Settings

DESCRIPTION = """\
Call a race for the desk, or take a call back: one race-call/1 record on the race-calls topic.
The worker puts the call in the race's snapshots (after polls close, never before) and alerts:
race_called, call_changed, call_retracted (critical). A call for a race or a candidate the
worker does not know, or with more winners than the race has seats, is a dead letter.
A later call replaces an earlier one: --seq defaults to the current time in milliseconds."""
EPILOG = """\
examples:
  votewire call 2024-11-05/senate/MN --winner klobuchar --by "Star Tribune desk"
  votewire call 2024-11-05/senate/MN --retract --by "Star Tribune desk"
  votewire call 2024-11-05/senate/GA --runoff ossoff,perdue
  votewire call 2024-11-05/commission-13121/GA --winner ortiz --winner lee   (vote for 2)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description, parser.epilog = DESCRIPTION, EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("race", metavar="RACE_KEY",
                        help="the race: ELECTION_ID/RACE_ID/STATE, e.g. 2024-11-05/senate/MN")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--winner", action="append", metavar="ID",
                      help="called for this candidate id (again for each winner of a vote-for-N race)")
    what.add_argument("--runoff", metavar="ID,ID", help="headed to a runoff between these candidate ids")
    what.add_argument("--retract", action="store_true", help="withdraw the call in force: no winner is declared")
    what.add_argument("--too-close", action="store_true", help="too close to call (a call in force is withdrawn)")
    what.add_argument("--too-early", action="store_true", help="too early to call (a call in force is withdrawn)")
    parser.add_argument("--by", default="desk", metavar="NAME", help="who calls it (default: desk; AP's are 'AP')")
    parser.add_argument("--at", metavar="RFC3339", help="when it was called (default: now, UTC)")
    parser.add_argument("--seq", type=int, help="its version: a higher one replaces (default: now in ms)")
    parser.add_argument("--mode", choices=contract.MODES, default="live", help="live (default) or test")


def run(args: argparse.Namespace, settings: Settings) -> int:
    call = parse_call(args)
    value = contract.race_call_value(call.race, call.mode, call.status, call.winners, call.by, call.at, call.seq)
    record = OutRecord(call.at_ms, contract.RACE_CALLS, contract.race_call_key(value), value)
    asyncio.run(produce_records(settings, [record], progress=False))
    print(f"call: {call.race} ({call.mode}) {describe(call)} by {call.by}, at {call.at} (seq {call.seq})")
    return DONE


def parse_call(args: argparse.Namespace) -> contract.RaceCall:
    """The call the arguments make, checked as the worker checks it (one-line `ConfigError`)."""
    parts = args.race.split("/")
    if len(parts) != 3 or not all(parts):
        raise ConfigError(f"RACE_KEY {args.race!r} is not ELECTION_ID/RACE_ID/STATE (e.g. 2024-11-05/senate/MN)")
    status, winners = status_of(args)
    at = args.at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    seq = args.seq if args.seq is not None else time.time_ns() // 1_000_000
    value = contract.race_call_value(args.race, args.mode, status, winners, args.by, at, seq)
    try:
        return parse_race_call(value)
    except InvalidRecord as error:
        raise ConfigError(f"not a call the worker would take: {error.reason}") from error


def status_of(args: argparse.Namespace) -> tuple[CallStatus, list[str]]:
    if args.winner:
        return "called", list(args.winner)
    if args.runoff:
        return "runoff", [w.strip() for w in args.runoff.split(",")]
    return ("too_close" if args.too_close else "too_early" if args.too_early else "retracted"), []


def describe(call: contract.RaceCall) -> str:
    if call.status == "called":
        return "called for " + ", ".join(call.winners)
    if call.status == "runoff":
        return "headed to a runoff between " + ", ".join(call.winners)
    return call.status.replace("_", " ")
