"""County shapes: fetching `us-atlas` through npm into the cache, decoding its TopoJSON into SVG
paths, `/v1/maps/{state}`, and the board's one party-colour mapping."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import stat
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.errors import SetupError
from streams.gateway.live import LiveResults
from streams.gateway.server import STATIC, build_app
from streams.geo import atlas
from streams.geo.atlas import Atlas, decode_arcs, fetch_atlas, svg_path
from streams.settings import Settings

# Two unit squares side by side in MN (27) sharing one edge, and one county elsewhere. Arcs are
# quantized deltas: x = q * 2 + 100, y = q * 1 + 50.
TOPOLOGY: dict[str, Any] = {
    "type": "Topology",
    "transform": {"scale": [2, 1], "translate": [100, 50]},
    "arcs": [
        [[1, 0], [0, 1]],  # the shared edge, (1,0) -> (1,1)
        [[1, 1], [-1, 0], [0, -1], [1, 0]],  # west square's other sides, (1,1) -> (0,1) -> (0,0) -> (1,0)
        [[1, 0], [1, 0], [0, 1], [-1, 0]],  # east square's other sides, (1,0) -> (2,0) -> (2,1) -> (1,1)
        [[5, 5], [1, 0], [0, 1], [-1, -1]],  # a triangle in another state
    ],
    "objects": {"counties": {"type": "GeometryCollection", "geometries": [
        {"type": "Polygon", "arcs": [[0, 1]], "id": "27001", "properties": {"name": "West"}},
        {"type": "Polygon", "arcs": [[2, -1]], "id": "27003", "properties": {"name": "East"}},
        {"type": "MultiPolygon", "arcs": [[[3]]], "id": "55001", "properties": {"name": "Elsewhere"}},
    ]}},
}


def test_arcs_are_deltas_scaled_and_translated() -> None:
    assert decode_arcs([[[1, 0], [0, 1]]], TOPOLOGY["transform"]) == [[(102, 50), (102, 51)]]
    assert decode_arcs([[[1.5, 2.5]]], None) == [[(1.5, 2.5)]]


def test_a_state_map_joins_arcs_into_rings_and_reverses_negative_ones() -> None:
    mn = Atlas(TOPOLOGY).state_map("27")
    assert mn is not None
    assert [(c.fips, c.name) for c in mn.counties] == [("27001", "West"), ("27003", "East")]
    # west: the shared edge up, then round: (102,50) (102,51) (100,51) (100,50) (102,50)
    assert mn.counties[0].path == "M102.0,50.0L102.0,51.0L100.0,51.0L100.0,50.0L102.0,50.0Z"
    # east: its three sides, then the shared edge reversed, down: ... (102,51) (102,50)
    assert mn.counties[1].path == "M102.0,50.0L104.0,50.0L104.0,51.0L102.0,51.0L102.0,50.0Z"
    # x 100..104, y 50..51, padded by 2% of the larger side (4): 0.08
    assert mn.view_box == pytest.approx((99.92, 49.92, 4.16, 1.16))
    assert mn.as_json()["view_box"] == "99.9 49.9 4.2 1.2"
    assert Atlas(TOPOLOGY).state_map("06") is None
    assert Atlas(TOPOLOGY).county_names()["55001"] == "Elsewhere"


def test_an_empty_ring_draws_nothing() -> None:
    assert svg_path([[], [(0.04, 0.05)]]) == "M0.0,0.1Z"


def fake_npm(bin_dir: Path, files: dict[str, bytes]) -> None:
    """An `npm` that answers `npm pack PKG --pack-destination DIR` with a tarball of `files`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (bin_dir / "pack.tgz").write_bytes(buffer.getvalue())
    script = bin_dir / "npm"
    script.write_text(f"#!{sys.executable}\nimport shutil, sys\n"
                      "assert sys.argv[1:3] == ['pack', 'us-atlas@3'], sys.argv\n"
                      "dest = sys.argv[sys.argv.index('--pack-destination') + 1]\n"
                      f"shutil.copy({str(bin_dir / 'pack.tgz')!r}, dest + '/us-atlas-3.0.1.tgz')\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_fetch_keeps_the_county_file_and_its_licence_in_the_cache(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npm(tmp_path, {"LICENSE": b"ISC", atlas.ATLAS_FILE: json.dumps(TOPOLOGY).encode(), "README.md": b""})
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    settings = Settings(cache_dir=str(tmp_path / "cache"))
    path = fetch_atlas(settings)
    assert path == tmp_path / "cache" / "us-atlas-3" / "counties-albers-10m.json"
    assert json.loads(path.read_text()) == TOPOLOGY
    assert (path.parent / "LICENSE").read_text() == "ISC"
    assert sorted(p.name for p in path.parent.iterdir()) == ["LICENSE", "counties-albers-10m.json"]
    (tmp_path / "npm").unlink()
    assert fetch_atlas(settings) == path  # cached: npm is not asked again


def test_fetch_without_npm_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atlas.shutil, "which", lambda name: None)
    with pytest.raises(SetupError, match="npm not found"):
        fetch_atlas(Settings(cache_dir=str(tmp_path)))


def test_the_cached_atlas_draws_all_87_minnesota_counties() -> None:
    path = atlas.atlas_path(Settings.from_env())
    if not path.exists():
        pytest.skip(f"{path} not fetched (make install)")
    mn = Atlas.load(path).state_map("27")
    assert mn is not None
    names = {c.fips: c.name for c in mn.counties}
    assert len(names) == 87
    assert (names["27001"], names["27053"], names["27123"], names["27173"]) == (
        "Aitkin", "Hennepin", "Ramsey", "Yellow Medicine")


def get(atlas_file: Path, url: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    async def main() -> tuple[int, dict[str, Any], dict[str, str]]:
        async with TestClient(TestServer(build_app(LiveResults(), atlas_file=atlas_file))) as client:
            resp = await client.get(url)
            return resp.status, await resp.json(), dict(resp.headers)

    return asyncio.run(asyncio.wait_for(main(), 20))


def test_maps_route_serves_a_states_counties(tmp_path: Path) -> None:
    atlas_file = tmp_path / "counties.json"
    atlas_file.write_text(json.dumps(TOPOLOGY))
    status, body, headers = get(atlas_file, "/v1/maps/mn")
    assert status == 200
    assert body["state"] == "MN"
    assert [c["fips"] for c in body["counties"]] == ["27001", "27003"]
    assert headers["Cache-Control"] == "public, max-age=3600"
    assert get(atlas_file, "/v1/maps/ZZ")[0] == 404


def test_maps_route_without_the_atlas_says_how_to_get_it(tmp_path: Path) -> None:
    status, body, _ = get(tmp_path / "absent.json", "/v1/maps/MN")
    assert status == 404
    assert "make install" in body["error"]


# --- party colours: one mapping (static/parties.json), used by the board's bars, map and tables


def side_of(party: str) -> str:
    """What board.js `sideOf` does with the mapping."""
    mapping = json.loads((STATIC / "parties.json").read_text(encoding="utf-8"))
    return str(mapping["sides"].get(party.upper(), mapping["other"]))


@pytest.mark.parametrize(("party", "side"), [
    ("DEM", "dem"), ("DFL", "dem"), ("D", "dem"), ("dfl", "dem"),
    ("REP", "rep"), ("R", "rep"), ("GOP", "rep"),
    ("LIB", "other"), ("G", "other"), ("WTP", "other"), ("IND", "other"), ("", "other"),
])
def test_democratic_and_dfl_blue_republican_red_others_neutral(party: str, side: str) -> None:
    assert side_of(party) == side


def rgb(css: str, name: str) -> tuple[int, int, int]:
    match = re.search(rf"--{name}: #([0-9a-fA-F]{{6}})", css)
    assert match, name
    value = match.group(1)
    return int(value[:2], 16), int(value[2:4], 16), int(value[4:], 16)


def test_the_sides_colours_are_blue_red_and_neutral() -> None:
    css = (STATIC / "board.css").read_text(encoding="utf-8")
    r, _, b = rgb(css, "dem")
    assert b > r + 80
    r, _, b = rgb(css, "rep")
    assert r > b + 80
    r, g, b = rgb(css, "other")
    assert max(r, g, b) - min(r, g, b) < 80  # no strong hue: neither side's
    board = (STATIC / "board.js").read_text(encoding="utf-8")
    assert 'fetch("/static/parties.json")' in board
    assert "party-" not in board  # every colour goes through sideOf and the side- classes
