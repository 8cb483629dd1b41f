"""`python -m streams.commands.model_check` (`make model-check`): the model's calibration on
simulated nights (streams.simulation.model_check) and on the real Minnesota 2024 night
(streams.model.check), as the Markdown tables README shows. Not a `votewire` verb: it measures
the model, it serves no election night.

    .venv/bin/python -m streams.commands.model_check --seeds 20          # what the README shows
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from streams.model.calibration import Score, table
from streams.model.check import minnesota_report
from streams.simulation.generate import PRESETS
from streams.simulation.model_check import simulated_scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.commands.model_check",
                                     description="The model's calibration on simulated nights and on Minnesota 2024.")
    parser.add_argument("--seeds", type=int, default=20, help="simulated nights (seeds 1..N; default 20)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small", help="simulator preset (default small)")
    parser.add_argument("--only", choices=("simulated", "minnesota"), help="one part only")
    args = parser.parse_args(argv)
    if args.only != "minnesota":
        print(f"### Simulated nights: `{args.preset}` preset, seeds 1–{args.seeds}, every race/state\n")
        scores: list[Score] = []
        for seed in range(1, args.seeds + 1):
            scores += simulated_scores(seed, args.preset)
            print(f"model-check: seed {seed} done", file=sys.stderr)
        print(table(scores))
    if args.only != "simulated":
        print("\n### Minnesota 2024, county by county, baseline the 2020 presidential result\n")
        print(minnesota_report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
