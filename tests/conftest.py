"""Shared test helpers: paths to the real data, and deadlines for every wait."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Real, official election data lives beside the project (../shared/data); the project keeps
# copies of what it bundles under streams/ and tests/fixtures.
SHARED_DATA = Path(os.environ.get("VOTEWIRE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"real election data not found at {SHARED_DATA}; set VOTEWIRE_SHARED_DATA")
    return SHARED_DATA
