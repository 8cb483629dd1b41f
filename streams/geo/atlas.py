"""County shapes for the board: the `us-atlas` TopoJSON from npm, fetched and cached like the Kafka jars.

`python -m streams.commands.atlas fetch` (run by `make install`) takes the `us-atlas@3` package through
npm's own client (`npm pack`) and keeps `counties-albers-10m.json` and its licence (ISC, US
Census Bureau shapes) in `$VOTEWIRE_CACHE_DIR/us-atlas-3/`. That file is already projected (Albers
USA, a 975 x 610 frame, y downwards), so a county becomes an SVG path with no projection code:
`Atlas.state_map` decodes the TopoJSON arcs of one state's counties into paths, here in plain
Python, and the gateway serves them at `/v1/maps/{state}`. Without the file the board still works
and says the map is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from streams.errors import SetupError
from streams.settings import Settings

ATLAS_PACKAGE = "us-atlas@3"
ATLAS_DIR = "us-atlas-3"
ATLAS_FILE = "counties-albers-10m.json"
NPM_TIMEOUT_S = 300
Point = tuple[float, float]


def atlas_path(settings: Settings) -> Path:
    return Path(settings.cache_dir) / ATLAS_DIR / ATLAS_FILE


def fetch_atlas(settings: Settings) -> Path:
    """Take the package through `npm pack` and keep the county file in the cache (idempotent)."""
    path = atlas_path(settings)
    if path.exists():
        return path
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError("npm not found: install Node.js (apt-get install npm) to fetch the us-atlas county shapes")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        try:
            subprocess.run([npm, "pack", ATLAS_PACKAGE, "--pack-destination", tmp, "--silent"], check=True,
                           capture_output=True, timeout=NPM_TIMEOUT_S)  # a fixed command, no shell
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            stderr = getattr(e, "stderr", b"") or b""
            raise SetupError(f"npm pack {ATLAS_PACKAGE} failed: {stderr.decode(errors='replace').strip()}") from e
        [tarball] = Path(tmp).glob("us-atlas-*.tgz")
        with tarfile.open(tarball) as tar:
            for name in ("LICENSE", ATLAS_FILE):  # the licence travels with the shapes
                member = tar.extractfile(f"package/{name}")
                if member is None:
                    raise SetupError(f"{tarball.name} has no package/{name}")
                staged = Path(tmp) / name
                staged.write_bytes(member.read())
                os.replace(staged, path.parent / name)  # the county file last: its presence means done
    return path


@dataclass(frozen=True, slots=True)
class CountyShape:
    fips: str
    name: str
    path: str  # SVG path data in the atlas's frame


@dataclass(frozen=True, slots=True)
class StateMap:
    state_fips: str
    view_box: tuple[float, float, float, float]  # x, y, width, height around the state's counties
    counties: list[CountyShape]

    def as_json(self) -> dict[str, Any]:
        return {"view_box": " ".join(f"{v:.1f}" for v in self.view_box),
                "counties": [{"fips": c.fips, "name": c.name, "path": c.path} for c in self.counties]}


class Atlas:
    """The counties of a `us-atlas` topology; arcs are decoded once, on first use."""

    def __init__(self, topology: dict[str, Any]) -> None:
        self._topology = topology
        self._geometries: list[dict[str, Any]] = topology["objects"]["counties"]["geometries"]
        self._arcs: list[list[Point]] | None = None

    @classmethod
    def load(cls, path: Path) -> Atlas:
        topology: dict[str, Any] = orjson.loads(path.read_bytes())
        return cls(topology)

    def county_names(self) -> dict[str, str]:
        return {g["id"]: g.get("properties", {}).get("name", g["id"]) for g in self._geometries}

    def state_map(self, state_fips: str) -> StateMap | None:
        """Every county of one state (by the FIPS prefix of its id), sorted by FIPS; None if none."""
        shapes, points = [], []
        for g in sorted(self._geometries, key=lambda g: str(g["id"])):
            if not str(g["id"]).startswith(state_fips) or g.get("type") not in ("Polygon", "MultiPolygon"):
                continue
            polygons = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
            rings = [self._ring(ring) for polygon in polygons for ring in polygon]
            points += [p for ring in rings for p in ring]
            shapes.append(CountyShape(g["id"], g.get("properties", {}).get("name", g["id"]), svg_path(rings)))
        if not shapes:
            return None
        return StateMap(state_fips, view_box(points), shapes)

    def _ring(self, arc_ids: Sequence[int]) -> list[Point]:
        """A ring from its arcs: a negative id is arc ~id reversed; shared ends are kept once."""
        arcs = self._decoded_arcs()
        ring: list[Point] = []
        for i in arc_ids:
            points = arcs[i] if i >= 0 else arcs[~i][::-1]
            ring.extend(points[1:] if ring else points)
        return ring

    def _decoded_arcs(self) -> list[list[Point]]:
        if self._arcs is None:
            self._arcs = decode_arcs(self._topology["arcs"], self._topology.get("transform"))
        return self._arcs


def decode_arcs(arcs: list[list[list[float]]], transform: dict[str, list[float]] | None) -> list[list[Point]]:
    """TopoJSON arcs to absolute points: quantized arcs are deltas, scaled and translated."""
    if transform is None:
        return [[(p[0], p[1]) for p in arc] for arc in arcs]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    decoded = []
    for arc in arcs:
        x = y = 0.0
        points = []
        for dx, dy, *_ in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        decoded.append(points)
    return decoded


def svg_path(rings: list[list[Point]]) -> str:
    """One closed subpath per ring, a tenth of a unit apart (the frame is ~1000 units wide)."""
    return "".join("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in ring) + "Z" for ring in rings if ring)


def view_box(points: list[Point], pad: float = 0.02) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    margin = pad * max(width, height)
    return (min(xs) - margin, min(ys) - margin, width + 2 * margin, height + 2 * margin)


