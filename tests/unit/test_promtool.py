"""Prometheus config and alert rules, checked by Debian's promtool (deploy/install-system-deps.sh)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from streams import metrics

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool not found: run deploy/install-system-deps.sh")
    return subprocess.run([exe, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.compose.yml"])
def test_config_is_valid(config: str) -> None:
    result = promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_are_valid() -> None:
    result = promtool("check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_votewire_metric_in_the_rules_is_defined_in_streams_metrics() -> None:
    used = set(re.findall(r"votewire_[a-z_]+", (PROMETHEUS / "rules.yml").read_text()))
    defined = set(re.findall(r'"(votewire_[a-z_]+)"', Path(metrics.__file__).read_text()))
    suffixes = ("_bucket", "_count", "_sum")
    assert {name.removesuffix(s) for name in used for s in suffixes if name.endswith(s)} | {
        name for name in used if not name.endswith(suffixes)} <= defined
