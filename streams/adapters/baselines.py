"""A previous election's results, from a file of any kind `votewire baseline` reads, as `Baseline`s.

The loaders of county results and recordings are pure and live with the model
(`streams.model.sources`); an OpenElections CSV is read by the `ingest openelections` adapter
first, which is why the choice of loader lives here, beside the adapters.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from streams.adapters import openelections
from streams.errors import SourceError
from streams.model.baselines import Baseline
from streams.model.sources import FinalFiguresReader, Target, from_recording, from_us_county_president

KINDS = ("us-county-president", "openelections", "recording")


def from_openelections(path: Path, target: Target) -> list[Baseline]:
    args = argparse.Namespace(files=[path], election_id=None, state=target.state, at=None, county_fips=None,
                              previous=[], strict=False)
    reader = FinalFiguresReader(target.race_id)
    for record in openelections.records(args):
        reader.take(record.topic, record.value)
    return reader.baselines(target, f"openelections {path.name}")


def load_baselines(kind: str, path: Path, target: Target, previous_election: str | None = None) -> list[Baseline]:
    """The baselines `kind` of file at `path` holds for `target`; none is an error."""
    if not path.is_file():
        raise SourceError(str(path), "file", "no such file")
    loaded = (from_us_county_president(path, target, previous_election) if kind == "us-county-president"
              else from_openelections(path, target) if kind == "openelections"
              else from_recording(path, target))
    if previous_election:
        loaded = [Baseline(b.election_id, b.race_id, b.state, previous_election, b.units, b.seq, b.issued_at,
                           b.source) for b in loaded]
    if not loaded:
        where = f" in {target.state}" if target.state else ""
        raise SourceError(str(path), "races", f"no results for race {target.race_id!r}{where}")
    return loaded
