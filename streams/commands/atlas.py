"""`python -m streams.commands.atlas fetch|path`: the county shapes for the board's maps
(streams.geo.atlas). Not a `votewire` verb: `make install` runs it once, and the board works
without it (with no maps)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from streams.errors import ConfigError, SetupError
from streams.geo.atlas import atlas_path, fetch_atlas
from streams.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.commands.atlas",
                                     description="Fetch the us-atlas county shapes into VOTEWIRE_CACHE_DIR.")
    parser.add_argument("action", choices=["fetch", "path"], help="fetch (idempotent), or print where they go")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        print(atlas_path(settings) if args.action == "path" else f"us-atlas county shapes in {fetch_atlas(settings)}")
    except (ConfigError, SetupError) as e:
        print(f"streams.commands.atlas: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
