"""The files the package names by path are where it looks for them (a module that moves
folder takes its `Path(__file__)` arithmetic with it)."""

from __future__ import annotations

from streams.gateway import server
from streams.localkafka import demo, kafka_local


def test_the_paths_the_package_names_exist() -> None:
    assert kafka_local.REPO_POM.is_file(), "`votewire kafka fetch` resolves the jars from this pom"
    assert demo.BUNDLED_NIGHT.is_file(), "`votewire demo` replays this night"
    assert (server.STATIC / "index.html").is_file(), "the gateway serves the board from here"
