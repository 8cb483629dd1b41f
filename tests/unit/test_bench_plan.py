"""`make bench`'s pure parts: which parts and nights a run takes, the targets its figures are
held to, and the side-by-side table of latest.md (bench/nights.py, targets.py, report.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.nights import DEFAULT_PARTS, PARTS, NightSpec, Presets, chosen_parts, is_whole_run, kept_workers, plan
from bench.scoreboard import Scoreboard
from bench.targets import Target, targets


def test_the_default_run_leaves_out_only_the_full_preset() -> None:
    assert chosen_parts(None, [], full=False) == list(DEFAULT_PARTS)
    assert "full" not in DEFAULT_PARTS
    with_full = chosen_parts(None, [], full=True)
    assert with_full.index("ballot") < with_full.index("full") < with_full.index("single")


def test_restart_brings_the_national_night_it_restarts() -> None:
    assert chosen_parts(["restart"], [], full=False) == ["night", "restart"]
    assert chosen_parts(None, ["restart"], full=False)[0] == "night"
    assert "restart" not in chosen_parts(None, ["restart"], full=False)


def test_the_full_ballots_restart_and_latency_bring_the_ballot_part_whose_worker_they_go_on_with() -> None:
    assert chosen_parts(["ballot-latency"], [], full=False) == ["ballot", "ballot-latency"]
    assert chosen_parts(["ballot-restart", "ballot-latency"], [], full=False) == [
        "ballot", "ballot-restart", "ballot-latency"]
    assert [n.role for n in plan(["ballot-restart"], Presets())] == ["ballot-polls", "ballot-batches"]
    assert "ballot" not in chosen_parts(None, ["ballot"], full=False)


def test_a_worker_is_kept_until_the_last_part_that_goes_on_with_it() -> None:
    assert kept_workers(list(DEFAULT_PARTS)) == {"us": "restart", "ballot-polls": "ballot-latency"}
    assert kept_workers(["ballot", "ballot-restart"]) == {"ballot-polls": "ballot-restart"}
    assert kept_workers(["night", "ballot", "catchup"]) == {}


def test_the_us_night_is_simulated_once_with_baselines_only_when_the_model_part_runs() -> None:
    with_model = plan(["catchup", "model"], Presets())
    assert with_model == [NightSpec("us", "us", 1, ("--baseline",))]
    assert plan(["catchup"], Presets()) == [NightSpec("us", "us", 1)]


def test_the_ballot_part_takes_issue_19s_night_as_polls_and_as_race_batches() -> None:
    polls, batches = plan(["ballot"], Presets())
    assert (polls.preset, polls.seed, polls.flags) == ("full-small", 11, ())
    assert (batches.preset, batches.seed, batches.flags) == ("full-small", 11, ("--per-race",))
    assert polls.packing.startswith("state polls")
    assert batches.packing.startswith("race batches")
    assert polls.file_name != batches.file_name


def test_nights_follow_the_parts_and_presets_asked_for() -> None:
    assert plan(["latency"], Presets()) == []
    small = Presets(us="tiny", ballot="full-tiny", full="full-tiny", single="tiny")
    assert [(n.role, n.preset) for n in plan(["yardsticks", "full", "single"], small)] == [
        ("us", "tiny"), ("full", "full-tiny"), ("single", "tiny")]
    assert plan(["single"], small)[0].flags == ("--single",)


def test_only_every_default_part_on_the_default_nights_is_a_whole_run() -> None:
    assert is_whole_run(list(DEFAULT_PARTS), Presets())
    assert is_whole_run(chosen_parts(None, [], full=True), Presets())
    assert not is_whole_run(chosen_parts(None, ["latency"], full=False), Presets())
    assert not is_whole_run(list(DEFAULT_PARTS), Presets(us="small"))


def catch_up(seconds: float, records: int = 1000, **more: Any) -> dict[str, Any]:
    return {"seconds": seconds, "records": records, "records_per_s": round(records / seconds), **more}


def target(found: list[Target], starts: str) -> Target:
    [one] = [t for t in found if t.name.startswith(starts)]
    return one


def test_full_small_polls_must_end_within_4_s_and_ahead_of_quix() -> None:
    fast = targets({"ballot-polls.votewire_catchup": catch_up(3.5), "ballot-polls.quix_peer": catch_up(4.0)}, 0.25)
    assert target(fast, "full-small as state polls: worker").met is True
    assert target(fast, "full-small as state polls: catch-up vs the Quix").met is True
    slow = targets({"ballot-polls.votewire_catchup": catch_up(4.5), "ballot-polls.quix_peer": catch_up(4.0)}, 0.25)
    assert target(slow, "full-small as state polls: worker").met is False
    assert target(slow, "full-small as state polls: catch-up vs the Quix").met is False


@pytest.mark.parametrize(("votewire_s", "met"), [(11.9, True), (12.1, False)])
def test_us_within_1_2x_of_quix_is_its_speed_at_least_1_over_1_2_of_quixs(votewire_s: float, met: bool) -> None:
    found = targets({"us.votewire_catchup": catch_up(votewire_s, 120_000),
                     "us.quix_peer": catch_up(10.0, 120_000)}, 0.25)
    assert target(found, "us catch-up within 1.2x").met is met


@pytest.mark.parametrize(("with_model_s", "met"), [(10.4, True), (10.6, False)])
def test_the_model_may_cost_the_us_catch_up_at_most_5_percent(with_model_s: float, met: bool) -> None:
    found = targets({"us.votewire_catchup": catch_up(10.0, 100_000),
                     "us-model.votewire_catchup": catch_up(with_model_s, 100_000)}, 0.25)
    model = target(found, "us catch-up with the baselines")
    assert (model.met, model.issue, model.yardstick) == (met, "20", "us.votewire_catchup")


def test_the_full_preset_is_held_to_3_minutes_and_2_gb() -> None:
    found = targets({"full.votewire_catchup": catch_up(170.0, peak_rss_mb=2100)}, 0.25)
    assert target(found, "full (--full): worker launch").met is True
    assert target(found, "full (--full): worker peak RSS").met is False


def test_a_target_whose_figure_is_missing_is_not_measured_not_met() -> None:
    found = targets({}, 0.25)
    assert found
    assert all(t.met is None and t.value is None for t in found)
    assert {"8", "19", "20", "8, 19"} == {t.issue for t in found}


def test_a_quick_run_names_the_presets_it_ran_not_the_default_ones() -> None:
    figures = {"ballot-polls.votewire_catchup": catch_up(1.0), "us.votewire_catchup": catch_up(1.0)}
    names = [t.name for t in targets(figures, 0.25, {"ballot-polls": "full-tiny", "us": "tiny"})]
    assert "full-tiny as state polls: worker launch to exact final snapshots" in names
    assert "tiny as state polls: worker launch to exact final snapshots" in names
    assert not any("full-small" in name or name.startswith("us ") for name in names)
    assert "full-small as state polls: worker launch to exact final snapshots" in [t.name for t in targets({}, 0.25)]


@pytest.mark.parametrize(("figure", "name"), [
    ("latency_5000", "p99 report -> snapshot at 5,000 reports/s offered, drained"),
    ("ballot-polls.latency_5000", "p99 report -> snapshot at 5,000 reports/s offered as state polls, full-small")])
def test_latency_counts_only_when_the_phase_drained(figure: str, name: str) -> None:
    figures = {figure: {"p99_ms": 300, "drained": False}}
    assert target(targets(figures, 0.25), name).met is False
    figures[figure]["drained"] = True
    assert target(targets(figures, 0.25), name).met is True
    figures[figure]["p99_ms"] = 501
    assert target(targets(figures, 0.25), name).met is False


def test_restart_is_held_to_15_s_on_the_us_night_and_with_full_ballot_state_each_in_its_own_row() -> None:
    found = targets({"restart": {"seconds": 9.0}, "ballot-polls.restart": {"seconds": 16.0}}, 0.25)
    assert target(found, "restart to current snapshots, full-small state").met is False
    [us] = [t for t in found if t.name == "restart to current snapshots"]
    assert us.met is True
    quick = targets({"ballot-polls.restart": {"seconds": 1.0}}, 0.25, {"ballot-polls": "full-tiny"})
    assert target(quick, "restart to current snapshots, full-tiny state").met is True


def board(figures: dict[str, dict[str, Any]]) -> Scoreboard:
    b = Scoreboard(command="python bench/run.py", machine={"cores": 2, "memory_gib": 1.0, "cpu": "x", "os": "y",
                                                           "load_1min_at_start": 0.0},
                   versions={}, publish_interval_s=0.25)
    b.figures.update(figures)
    b.inputs["ballot-polls"] = {"packing": "state polls (state-poll/1)"}
    return b


def test_the_side_by_side_table_has_a_row_per_night_read_and_votewires_speed_against_each_yardstick() -> None:
    doc = board({"ballot-polls.limit": catch_up(0.5, 3400), "ballot-polls.tally_no_durability": catch_up(1.0, 3400),
                 "ballot-polls.quix_peer": catch_up(4.0, 3400),
                 "ballot-polls.votewire_catchup": catch_up(2.0, 3400, peak_rss_mb=300, exact="9/9")}).as_json()
    table = report.nights_table(doc["figures"], doc["inputs"])
    [row] = [line for line in table if line.startswith("| ballot-polls")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "state polls (state-poll/1)"
    assert cells[4:8] == ["0.50", "1.00", "4.00", "2.00"]
    assert cells[8:] == ["0.50x", "2.00x", "300", "9/9"]
    assert not any(line.startswith("| us ") for line in table)


def test_latest_md_names_each_target_with_its_issue_and_what_each_part_cost() -> None:
    b = board({"us.votewire_catchup": catch_up(40.0, 100_000)})
    b.part_seconds["catchup"] = 41.25
    text = b.as_markdown()
    assert "| 19 | us as state polls: worker launch to exact final snapshots | 40.0 s |" in text
    assert "| catchup | 41.2 |" in text or "| catchup | 41.3 |" in text
    assert "not measured" in text


def test_every_part_has_a_step_and_the_parser_offers_each(tmp_path: Path) -> None:
    from bench.parts import Bench
    from bench.run import options, steps

    bench = Bench(argparse.Namespace(), tmp_path, "127.0.0.1:9", board({}))
    assert set(steps(bench, {})) == set(PARTS)
    args = options().parse_args(["--only", "full", "--full-preset", "full-tiny"])
    assert (args.only, args.full_preset, args.ballot_seed) == (["full"], "full-tiny", 11)
