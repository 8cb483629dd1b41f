"""The quick form of `make faults` inside `make test`: one seed, short nights, the main
scenarios (the worker SIGKILLed mid-night, a frozen zombie beside its successor, a proxy that
blackholes, resets and delays), on a broker of its own behind the fault proxy. The report,
read back from its JSON, must show nothing lost, nothing counted twice, no version going
down, and exactly the injected dead letters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from faults.scenarios import QUICK


def test_the_quick_fault_scenarios_lose_nothing_and_count_nothing_twice(tmp_path: Path) -> None:
    out = tmp_path / "faults.json"
    done = subprocess.run([sys.executable, "-m", "faults.run", "--seeds", "1", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert out.exists(), f"no report written:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    report = orjson.loads(out.read_bytes())
    results = {r["scenario"]: r for r in report["scenarios"]}
    assert set(results) == set(QUICK)
    for name, r in results.items():
        assert r["status"] == "passed", f"{name}: {r.get('failures')} {r.get('examples')}\n{done.stdout[-3000:]}"
        assert (r["votes_lost"], r["votes_counted_twice"], r["version_regressions"]) == (0, 0, 0), name
        assert r["units_wrong_seq"] == 0, name
        assert r["dead_letters_distinct"] == r["dead_letters_injected"] > 0, name
        assert all(s is not None for s in r["recovery_s"].values()), f"{name}: a fault it never recovered from"
        assert r["peak_lag"] > 0, f"{name}: the monitor never saw the worker behind: was it watching?"
    assert done.returncode == 0, done.stdout[-3000:]
