"""Which simulated nights a `make bench` run needs, and how each is simulated.

Each night has a role, the name its figures go under (`<role>.<yardstick>`):

  us              the president and Senate over every state (`--preset us`), as state polls:
                  the national night, the restart, its yardsticks and catch-up; simulated with
                  `--baseline` when the `model` part runs (the night is the same byte for byte)
  us-model        the same recording with its baselines topic filled: the catch-up with the model
  ballot-polls    a full ballot (`--preset full-small --seed 11`, issue 19's night) as state polls;
                  its worker's restart and live latency too (`ballot-restart`, `ballot-latency`)
  ballot-batches  the same night as race batches (`--per-race`)
  full            the full preset (~10M reports) as state polls; only with `--full`
  single          a single-report night (`--single`), faust's floor against the worker
"""

from __future__ import annotations

from dataclasses import dataclass

# Parts in the order they run; `full` only when asked for (`--full` or `--only full`).
PARTS = ("night", "restart", "yardsticks", "catchup", "model", "ballot", "ballot-restart", "ballot-latency", "full",
         "single", "latency")
DEFAULT_PARTS = tuple(p for p in PARTS if p != "full")
US_PARTS = frozenset({"night", "restart", "yardsticks", "catchup", "model"})
BALLOT_PARTS = frozenset({"ballot", "ballot-restart", "ballot-latency"})
# Parts that go on with a worker an earlier part left running: the worker's role, and the part
# that starts it (and so comes along when they are asked for).
LIVE_WORKER = {"restart": ("us", "night"), "ballot-restart": ("ballot-polls", "ballot"),
               "ballot-latency": ("ballot-polls", "ballot")}


@dataclass(frozen=True)
class Presets:
    """The presets and seeds a run was asked for (bench/run.py's options)."""

    us: str = "us"
    us_seed: int = 1
    ballot: str = "full-small"
    ballot_seed: int = 11
    full: str = "full"
    single: str = "small"


@dataclass(frozen=True)
class NightSpec:
    role: str
    preset: str
    seed: int
    flags: tuple[str, ...] = ()  # simulate's packing (`--per-race`, `--single`) and `--baseline`

    @property
    def packing(self) -> str:
        if "--single" in self.flags:
            return "single reports (precinct-result/1)"
        if "--per-race" in self.flags:
            return "race batches (precinct-batch/1)"
        return "state polls (state-poll/1)"

    @property
    def file_name(self) -> str:
        return f"{self.role}-{self.preset}-{self.seed}.jsonl.gz"


def chosen_parts(only: list[str] | None, skip: list[str], full: bool) -> list[str]:
    """The parts to run, in order: `--only`'s, or the default ones (plus `full` with `--full`).
    A part that goes on with a running worker brings the part that starts it (`LIVE_WORKER`):
    `restart` brings `night`, `ballot-restart` and `ballot-latency` bring `ballot`."""
    wanted = set(only) if only else set(DEFAULT_PARTS) | ({"full"} if full else set())
    wanted |= {LIVE_WORKER[p][1] for p in wanted - set(skip) if p in LIVE_WORKER}
    return [p for p in PARTS if p in wanted and p not in skip]


def kept_workers(parts: list[str]) -> dict[str, str]:
    """The workers to keep running after the part that starts them: role -> the last part of
    `parts` that goes on with it (after which it stops)."""
    return {LIVE_WORKER[p][0]: p for p in parts if p in LIVE_WORKER}


def plan(parts: list[str], presets: Presets) -> list[NightSpec]:
    """The nights to simulate for `parts` (the us night once, with its baselines if `model` runs)."""
    nights = []
    if US_PARTS & set(parts):
        baseline = ("--baseline",) if "model" in parts else ()
        nights.append(NightSpec("us", presets.us, presets.us_seed, baseline))
    if BALLOT_PARTS & set(parts):
        nights.append(NightSpec("ballot-polls", presets.ballot, presets.ballot_seed))
        nights.append(NightSpec("ballot-batches", presets.ballot, presets.ballot_seed, ("--per-race",)))
    if "full" in parts:
        nights.append(NightSpec("full", presets.full, presets.ballot_seed))
    if "single" in parts:
        nights.append(NightSpec("single", presets.single, 1, ("--single",)))
    return nights


def is_whole_run(parts: list[str], presets: Presets) -> bool:
    """Whether a run counts as `make bench` (writes latest.*): every default part, default nights."""
    return set(DEFAULT_PARTS) <= set(parts) and presets == Presets()
