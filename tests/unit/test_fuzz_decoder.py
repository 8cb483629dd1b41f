"""The bounded decoder fuzz run (`python -m faults.fuzz_decoder`): it finds a crash when there is one."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults import fuzz_decoder


def test_a_short_run_on_the_real_decoders_finds_no_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz_decoder.main(["--seconds", "2", "--seed", "7", "--crash-dir", str(tmp_path)]) == 0
    assert "no crash in" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_a_crash_exits_1_and_leaves_the_input_and_its_traceback(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def fragile(raw: bytes) -> object:
        if b"harris" in raw:
            return {}["harris"]  # the kind of bug fuzzing is for: a KeyError, not a verdict
        return "ok"

    monkeypatch.setitem(fuzz_decoder.TARGETS, "precinct-results", fragile)
    assert fuzz_decoder.main(["--seconds", "30", "--seed", "1", "--crash-dir", str(tmp_path)]) == 1
    [crash] = tmp_path.glob("crash-precinct-results-seed1-*.bin")
    assert b"harris" in crash.read_bytes()
    assert "KeyError: 'harris'" in crash.with_suffix(".txt").read_text()


def test_the_same_seed_gives_the_same_inputs() -> None:
    first, second = fuzz_decoder.Mutator(5), fuzz_decoder.Mutator(5)
    assert [first.next() for _ in range(50)] == [second.next() for _ in range(50)]
