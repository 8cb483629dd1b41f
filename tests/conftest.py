"""Shared test helpers: paths to the real data, and deadlines for every wait."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis fails an example that takes over 200 ms: a timed assertion, which this project's
# tests do not make (speed is measured in bench/). On a loaded two-core machine it failed
# good examples of tests/unit/test_batches.py. Tests that set their own settings keep them.
settings.register_profile("votewire", deadline=None)
settings.load_profile("votewire")

REPO = Path(__file__).resolve().parent.parent
# Real, official election data lives beside the project (../shared/data); the project keeps
# copies of what it bundles under streams/ and tests/fixtures.
SHARED_DATA = Path(os.environ.get("VOTEWIRE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"real election data not found at {SHARED_DATA}; set VOTEWIRE_SHARED_DATA")
    return SHARED_DATA
