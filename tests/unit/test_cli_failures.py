"""Every `votewire` verb, when it cannot do its job, says so in one line and its exit code (issue 17).

0 done, 1 could not do it, 2 bad usage or settings (3: `kafka status`, not running). No
traceback, no empty output file. These need no broker: there is none at 127.0.0.1:1.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams import cli
from streams.localkafka import kafka_local
from streams.settings import OTHER_VARIABLES, Settings

REPO = Path(__file__).resolve().parents[2]
AP_RESPONSE = REPO / "tests" / "fixtures" / "ap" / "20160301_super_tuesday.json"
NO_BROKER = "127.0.0.1:1"


def votewire(args: list[str], cwd: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m streams.cli ARGS` with no VOTEWIRE_* variable but the ones given."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VOTEWIRE_")}
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False,
                          env={**base, "PYTHONPATH": str(REPO), "VOTEWIRE_DATA_DIR": str(cwd / "data"),
                               "VOTEWIRE_BOOTSTRAP": NO_BROKER, **env})


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def votewire_here(argv: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str], **env: str) -> subprocess.CompletedProcess[str]:
    """The same, in this process (`streams.cli.main`): for the many cases that stop before any work."""
    for name in [n for n in os.environ if n.startswith("VOTEWIRE_")]:
        monkeypatch.delenv(name)
    for name, value in {"VOTEWIRE_DATA_DIR": str(cwd / "data"), "VOTEWIRE_BOOTSTRAP": NO_BROKER, **env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse's usage errors
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, captured.out, captured.err)


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "night.jsonl"
    path.write_text('{"ts": 1, "topic": "race-definitions", "key": "k", "value": {}}\n')
    return path


NO_BROKER_VERBS = [
    ["topics", "create"],
    ["worker"],
    ["replay", "--max", "night.jsonl"],
    ["record", "--out", "out.jsonl", "--idle-exit", "1"],
    ["watch", "--race", "president", "--state", "MN"],
    ["ingest", "ap", str(AP_RESPONSE), "--to-kafka"],
    ["call", "2024-11-05/senate/MN", "--winner", "klobuchar"],
    # `demo` starts a broker of its own when none answers (that is its job); `gateway` waits for
    # one (test_the_gateway_without_a_broker_says_so_once); `kafka` runs the broker itself.
]


@pytest.mark.parametrize("argv", NO_BROKER_VERBS, ids=lambda a: " ".join(a[:2]))
def test_with_no_broker_each_verb_says_so_in_one_line_and_exits_1(argv: list[str], tmp_path: Path,
                                                                    recording: Path) -> None:
    done = votewire(argv, tmp_path)
    assert done.returncode == 1, done.stderr
    assert one_line(done) == (f"votewire {argv[0]}: no Kafka broker answers at {NO_BROKER} (Connection refused): "
                              "is it running? (`votewire kafka start` starts a local one)")
    assert not (tmp_path / "out.jsonl").exists()


def test_kafka_status_and_stop_with_nothing_running(tmp_path: Path) -> None:
    status, stop = votewire(["kafka", "status"], tmp_path), votewire(["kafka", "stop"], tmp_path)
    assert (status.returncode, status.stdout.strip()) == (3, f"kafka is not running (data dir {tmp_path}/data/kafka)")
    assert (stop.returncode, stop.stderr) == (0, "")


BAD_USAGE = {
    "no verb": ([], "votewire: the following arguments are required: VERB"),
    "unknown verb": (["count"], "votewire: argument VERB: invalid choice: 'count'"),
    "replay no file": (["replay"], "votewire replay: the following arguments are required: FILE"),
    "replay missing file": (["replay", "gone.jsonl"], "votewire replay: gone.jsonl: no such recording file"),
    "replay speed": (["replay", "--speed", "fast", "night.jsonl"], "votewire replay: argument --speed: invalid float"),
    "replay speed 0": (["replay", "--speed", "0", "night.jsonl"], "votewire replay: --speed 0.0 must be > 0"),
    "record no out": (["record"], "votewire record: the following arguments are required: --out"),
    "ingest format": (["ingest", "csv"], "votewire ingest: argument FORMAT: invalid choice: 'csv'"),
    "ingest no file": (["ingest", "ap", "--out", "o.jsonl"],
                       "votewire ingest ap: the following arguments are required: FILE"),
    "ingest no output": (["ingest", "ap", "x.json"], "votewire ingest ap: one of the arguments --out --to-kafka"),
    "ingest ap-poll url": (["ingest", "ap-poll", "results.json", "--out", "o.jsonl"],
                           "votewire ingest: 'results.json' is not an http(s) URL to poll"),
    "simulate preset": (["simulate", "--preset", "mars", "--out", "o.jsonl"],
                        "votewire simulate: argument --preset: invalid choice: 'mars'"),
    "simulate unwritable": (["simulate", "--preset", "tiny", "--out", "/proc/no/o.jsonl"],
                            "votewire simulate: /proc/no/o.jsonl: cannot write there"),
    "watch counties": (["watch", "--counties", "many"], "votewire watch: argument --counties: invalid int value"),
    "topics action": (["topics", "delete"], "votewire topics: argument action: invalid choice: 'delete'"),
    "topics partitions": (["topics", "create", "--partitions", "0"],
                          "votewire topics: VOTEWIRE_PARTITIONS=0: must be a whole number, at least 1"),
    "kafka action": (["kafka", "restart"], "votewire kafka: argument action: invalid choice: 'restart'"),
    "kafka nodes": (["kafka", "start", "--nodes", "0"], "votewire kafka: VOTEWIRE_KAFKA_NODES=0: must be"),
    "kafka heap": (["kafka", "start", "--heap", "lots"], "votewire kafka: VOTEWIRE_KAFKA_HEAP='lots': must be"),
    "worker web addr": (["worker", "--web-addr", "nowhere"], "votewire worker: VOTEWIRE_WORKER_WEB_ADDR='nowhere'"),
    "worker log level": (["worker", "--log-level", "loud"], "votewire worker: argument --log-level: invalid choice"),
    "gateway addr": (["gateway", "--addr", "nowhere"], "votewire gateway: VOTEWIRE_GATEWAY_ADDR='nowhere'"),
    "gateway idle": (["gateway", "--idle-timeout", "-5"], "votewire gateway: VOTEWIRE_GATEWAY_IDLE_TIMEOUT_S=-5.0"),
    "demo file": (["demo", "--file", "gone.jsonl.gz"], "votewire demo: gone.jsonl.gz: no such recording file"),
    "demo speed": (["demo", "--speed", "0"], "votewire demo: --speed 0.0 must be > 0"),
    "call no race": (["call"], "votewire call: the following arguments are required: RACE_KEY"),
    "call no decision": (["call", "e/r/MN"], "votewire call: one of the arguments --winner --runoff --retract"),
    "call two decisions": (["call", "e/r/MN", "--winner", "x", "--retract"],
                           "votewire call: argument --retract: not allowed with argument --winner"),
    "call race key": (["call", "MN-senate", "--winner", "x"],
                      "votewire call: RACE_KEY 'MN-senate' is not ELECTION_ID/RACE_ID/STATE"),
    "call runoff of one": (["call", "e/r/MN", "--runoff", "ossoff"],
                           "votewire call: not a call the worker would take: winners names 1 candidate, a runoff"),
    "call seq": (["call", "e/r/MN", "--retract", "--seq", "soon"], "votewire call: argument --seq: invalid int"),
    "call mode": (["call", "e/r/MN", "--retract", "--mode", "dry"], "votewire call: argument --mode: invalid choice"),
}


@pytest.mark.parametrize(("argv", "line"), BAD_USAGE.values(), ids=BAD_USAGE.keys())
def test_bad_usage_is_one_line_and_exit_2(argv: list[str], line: str, tmp_path: Path, recording: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    done = votewire_here(argv, tmp_path, monkeypatch, capsys)
    assert done.returncode == 2, done.stderr
    assert one_line(done).startswith(line)


BAD_SETTINGS = {
    "VOTEWIRE_LOG_LEVEL": ("verbose", "must be one of debug, info, warning, error"),
    "VOTEWIRE_PARTITIONS": ("0", "must be a whole number, at least 1"),
    "VOTEWIRE_REPLICATION_FACTOR": ("three", "is not a valid int"),
    "VOTEWIRE_PUBLISH_INTERVAL_S": ("-1", "must be a number of seconds above 0"),
    "VOTEWIRE_SESSION_TIMEOUT_S": ("nan", "must be a number of seconds above 0"),
    "VOTEWIRE_REBALANCE_TIMEOUT_S": ("0", "must be a number of seconds above 0"),
    "VOTEWIRE_SEND_TIMEOUT_S": ("-30", "must be a number of seconds above 0"),
    "VOTEWIRE_BOOTSTRAP": ("kafka", "must be host:port"),
    "VOTEWIRE_GATEWAY_ADDR": ("127.0.0.1:99999", "must be host:port"),
    "VOTEWIRE_GATEWAY_SHOW_TEST": ("maybe", "is not a valid bool"),
    "VOTEWIRE_GATEWAY_CORS_ORIGINS": ("news.example", "must be *, none, or a comma-separated list of origins"),
    "VOTEWIRE_SECURITY_PROTOCOL": ("TLS", "must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
    "VOTEWIRE_TOPIC_PREFIX": ("my night/", "must be letters, digits"),
    "VOTEWIRE_KAFKA_HEAP": ("512 MB", "must be a Java heap size"),
}


@pytest.mark.parametrize(("verb", "variable"), [(v, n) for n in BAD_SETTINGS for v in ("worker", "simulate")],
                         ids=lambda x: x)
def test_a_bad_setting_stops_every_verb_at_start_in_one_line(verb: str, variable: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    value, why = BAD_SETTINGS[variable]
    argv = [verb] if verb == "worker" else [verb, "--preset", "tiny", "--out", "o.jsonl"]
    done = votewire_here(argv, tmp_path, monkeypatch, capsys, **{variable: value})
    assert done.returncode == 2, done.stderr
    line = one_line(done)
    assert line.startswith(f"votewire {verb}: {variable}=")
    assert why in line
    assert not (tmp_path / "o.jsonl").exists()


def test_a_bad_log_level_is_one_line_not_cannot_setup_logging(tmp_path: Path) -> None:
    done = votewire(["worker"], tmp_path, VOTEWIRE_LOG_LEVEL="verbose")
    assert (done.returncode, one_line(done)) == (
        2, "votewire worker: VOTEWIRE_LOG_LEVEL='verbose': must be one of debug, info, warning, error")


def test_a_misspelt_variable_is_one_warning_with_the_name_meant(tmp_path: Path) -> None:
    done = votewire(["kafka", "stop"], tmp_path, VOTEWIRE_PARTITON="8", VOTEWIRE_TEST_BOOTSTRAP="127.0.0.1:2")
    assert done.returncode == 0
    assert one_line(done) == ("votewire: warning: VOTEWIRE_PARTITON is not a votewire variable and is ignored "
                              "(did you mean VOTEWIRE_PARTITIONS?)")


def test_every_votewire_variable_the_repository_names_is_known() -> None:
    """A name used anywhere (Makefile, tests, bench, docs, manifests) is a setting or listed in
    OTHER_VARIABLES, so nobody's real variable is reported as a typo."""
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    named = set()
    for name in files:
        path = REPO / name
        if path.is_file() and path.suffix not in (".gz", ".png", ".json"):
            named |= set(re.findall(r"\bVOTEWIRE_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(errors="replace")))
    # A constant of tests/unit/test_compose.py, and the misspelling the README and the test above show.
    not_variables = {"VOTEWIRE_SERVICES", "VOTEWIRE_PARTITON"}
    unknown = named - set(Settings.variables()) - OTHER_VARIABLES - not_variables
    assert not unknown, f"add to streams.settings.OTHER_VARIABLES or make a setting: {sorted(unknown)}"


def test_ingest_of_an_unreadable_file_exits_1_and_leaves_no_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(bytes(range(256)) * 4)
    for fmt in ("ap", "clarity"):
        done = votewire(["ingest", fmt, str(garbage), "--out", "out.jsonl"], tmp_path)
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines()[-1] == (
            f"votewire ingest: no records from {garbage} (1 malformed parts skipped); nothing written")
        assert [p.name for p in tmp_path.iterdir() if "out" in p.name] == []  # not even a partial one


def test_ingest_with_some_bad_files_warns_with_a_count_and_strict_fails(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    kept = votewire(["ingest", "ap", str(AP_RESPONSE), str(garbage), "--out", "out.jsonl"], tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert kept.stderr.strip().splitlines()[-1] == (
        "votewire ingest ap: warning: 1 malformed parts skipped; --strict makes that an error")
    assert (tmp_path / "out.jsonl").stat().st_size > 0
    strict = votewire(["ingest", "ap", str(AP_RESPONSE), str(garbage), "--strict", "--out", "strict.jsonl"],
                      tmp_path)
    assert strict.returncode == 1
    assert one_line(strict).startswith(f"votewire ingest: {garbage}:char 0: not JSON")
    assert not (tmp_path / "strict.jsonl").exists()


def test_the_gateway_without_a_broker_says_so_once(tmp_path: Path) -> None:
    """Before: a traceback and 'Unclosed AIOKafkaConsumer' every 2 s (133 lines in 20 s)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VOTEWIRE_")}
    env = {**base, "PYTHONPATH": str(REPO), "VOTEWIRE_BOOTSTRAP": NO_BROKER, "VOTEWIRE_DATA_DIR": str(tmp_path),
           "VOTEWIRE_GATEWAY_ADDR": f"127.0.0.1:{kafka_local.free_port()}"}
    gateway = subprocess.Popen([sys.executable, "-m", "streams.cli", "gateway"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(10)  # five retries
    gateway.send_signal(signal.SIGINT)
    out, _ = gateway.communicate(timeout=30)
    assert gateway.returncode == 0
    lines = [line.split(" ", 3)[3] for line in out.strip().splitlines()]  # without the time and level
    assert lines[0].startswith("streams.commands.gateway: gateway on http://")
    assert lines[1].startswith('aiokafka: broker connection lost: Unable connect to "127.0.0.1:1"')
    assert lines[2:] == ["streams.commands.gateway: gateway stopping"], out
