"""The gateway's read model: newest version wins, test data stays out, alerts numbered once."""

from __future__ import annotations

import pytest

from streams.gateway.store import RaceKey, ResultStore
from tests.support.examples import alert, county_result, state_result

MN = RaceKey("2024-11-05", "president", "MN")


def test_a_newer_version_replaces_the_held_snapshot() -> None:
    store = ResultStore()
    assert store.apply_state(state_result(version=1))
    assert store.apply_state(state_result(version=3))
    assert store.state(MN)["version"] == 3


@pytest.mark.parametrize("version", [3, 2])
def test_an_equal_or_older_version_never_replaces_a_newer_one(version: int) -> None:
    store = ResultStore()
    store.apply_state(state_result(version=3))
    assert not store.apply_state(state_result(version=version, votes={"harris": 1, "trump": 2}))
    assert store.state(MN)["total_votes"] == state_result(version=3)["total_votes"]


@pytest.mark.parametrize("broken", [
    {"version": "7"}, {"version": True}, {"version": None}, {"state": ""}, {"mode": "staging"}, {"race_id": 5}])
def test_a_malformed_snapshot_is_ignored(broken: dict[str, object]) -> None:
    store = ResultStore()
    assert not store.apply_state({**state_result(), **broken})
    assert store.races() == []


def test_test_mode_is_dropped_unless_shown() -> None:
    hidden, shown = ResultStore(), ResultStore(show_test=True)
    for store in (hidden, shown):
        store.apply_state(state_result(mode="test"))
        store.apply_county(county_result("27053", mode="test"))
        store.apply_alert(alert("a1", mode="test"))
    test_key = RaceKey("2024-11-05", "president", "MN", "test")
    assert hidden.state(test_key) is None
    assert hidden.counties_of(test_key) == []
    assert hidden.alerts_since(None) == []
    assert hidden.races() == []
    assert shown.state(test_key) is not None
    assert shown.races()[0]["mode"] == "test"


def test_test_and_live_are_held_apart() -> None:
    store = ResultStore(show_test=True)
    store.apply_state(state_result(version=9, mode="test"))
    store.apply_state(state_result(version=1))
    assert store.state(MN)["version"] == 1


def test_counties_keep_the_newest_per_county_in_fips_order() -> None:
    store = ResultStore()
    for fips, version in [("27123", 2), ("27053", 1), ("27053", 4), ("27053", 3)]:
        store.apply_county(county_result(fips, version=version))
    counties = store.counties_of(MN)
    assert [(c["county_fips"], c["version"]) for c in counties] == [("27053", 4), ("27123", 2)]


def test_races_summarise_each_state_with_its_readout_and_link() -> None:
    store = ResultStore()
    store.apply_state(state_result("WI"))
    store.apply_state(state_result("MN", version=2))
    races = store.races()
    assert [r["state"] for r in races] == ["MN", "WI"]
    assert races[0]["readout"].startswith("Harris 52.2% · Trump 47.0%")
    assert races[0]["href"] == "/v1/results/2024-11-05/president/MN"


def test_alerts_are_numbered_once_and_read_since_a_seq_or_a_time() -> None:
    store = ResultStore()
    assert store.apply_alert(alert("a1", at="2024-11-06T02:00:00Z"))["seq"] == 1
    assert store.apply_alert(alert("a1")) is None  # a re-processed input repeats its id
    store.apply_alert(alert("a2", at="2024-11-06T03:00:00+00:00"))
    assert [a["alert_id"] for a in store.alerts_since("1")] == ["a2"]
    assert [a["alert_id"] for a in store.alerts_since("2024-11-06T02:30:00Z")] == ["a2"]
    assert len(store.alerts_since(None)) == 2
    with pytest.raises(ValueError, match="neither"):
        store.alerts_since("yesterday")


def test_old_alerts_fall_out_of_a_bounded_store() -> None:
    store = ResultStore(max_alerts=3)
    for i in range(5):
        store.apply_alert(alert(f"a{i}"))
    assert [a["seq"] for a in store.alerts_since(None)] == [3, 4, 5]
