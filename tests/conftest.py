"""Test helpers for every suite: the real Minnesota night, unpacked, and hypothesis's profile."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis fails an example that takes over 200 ms: a timed assertion, which this project's
# tests do not make (speed is measured in bench/). On a loaded two-core machine it failed
# good examples of tests/unit/test_batches.py. Tests that set their own settings keep them.
settings.register_profile("votewire", deadline=None)
settings.load_profile("votewire")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The Minnesota SoS media files of the 2024 night, in the archive's own layout, as one tarball
# (433 kB instead of 6.3 MB of text): provenance and licence in tests/fixtures/README.md.
MN_NIGHT_ARCHIVE = FIXTURES / "mn-sos" / "mn-2024-general.tar.gz"


@pytest.fixture(scope="session")
def mn_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real night's folder (USPres.txt/, USPresCty.txt/, ...), as `votewire ingest mn-sos` reads it."""
    root = tmp_path_factory.mktemp("mn-sos")
    with tarfile.open(MN_NIGHT_ARCHIVE) as archive:
        archive.extractall(root, filter="data")
    return root / "mn-2024-general"
