"""Placeholder: this verb is being built."""

from __future__ import annotations

import argparse

from streams.errors import SetupError
from streams.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    raise SetupError(f"`votewire {args.verb}` is not built yet")
