"""``agentstore verify``: every chain checked; exit 1 naming each broken (stream, writer, seq)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import agentstore
import pytest
from agentstore import AuditEntry, BackendUnavailable, Registry, Store, StorePolicy
from agentstore.capabilities import AUDIT_STREAM, AUDIT_WRITER
from agentstore.cli import app as cli_app
from agentstore.driver import DriverSpec, DriverStores, OpenContext
from agentstore.registry import NoConfig
from agentstore_memory import MemoryLogStore, open_memory
from click.testing import Result

SharedState = Any  # the ``shared`` fixture's state (tests/cli/conftest.py)

Run = Callable[..., Result]
ErrorLine = Callable[[Result], str]


@pytest.fixture
def policy_file(workdir: Path, shared: SharedState) -> Path:
    path = workdir / "agentstore.toml"
    path.write_text('[store]\nbackend = "shared"\n', encoding="utf-8")
    return path


@pytest.fixture
def store(policy_file: Path, registry: Registry) -> Store:
    """A store with three chains and an audit chain: conv/alice (3), conv/bob (2), ops/cron (1)."""
    s = agentstore.open(policy_file, registry=registry)
    s.log("conv", "alice").append_many([b"a1", b"a2", b"a3"])
    s.log("conv", "bob").append_many([b"b1", b"b2"])
    s.log("ops", "cron").append(b"tick")
    s.audit.emit(AuditEntry("policy.update"))
    return s


def test_empty_store(run: Run, policy_file: Path) -> None:
    result = run("verify")
    assert result.exit_code == 0
    assert result.stdout == "ok: no chains to verify (the store holds no log entries)\n"


def test_all_chains_hold(run: Run, store: Store) -> None:
    result = run("verify")
    assert result.exit_code == 0, result.stdout
    assert result.stdout == "ok: 4 chains hold (7 entries)\n"
    verbose = run("verify", "-v")
    assert verbose.stdout.splitlines() == [
        "ok: stream 'conv', writer 'alice': 3 entries",
        "ok: stream 'conv', writer 'bob': 2 entries",
        "ok: stream 'ops', writer 'cron': 1 entry",
        f"ok: stream '{AUDIT_STREAM}', writer '{AUDIT_WRITER}': 1 entry",
        "ok: 4 chains hold (7 entries)",
    ]


def test_redacted_entries_are_counted(run: Run, store: Store) -> None:
    store.log("conv", "alice").redact(2, reason="erasure request")  # + an audit record
    result = run("verify", "-v")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines() == [
        "ok: stream 'conv', writer 'alice': 3 entries, 1 redacted",
        "ok: stream 'conv', writer 'bob': 2 entries",
        "ok: stream 'ops', writer 'cron': 1 entry",
        f"ok: stream '{AUDIT_STREAM}', writer '{AUDIT_WRITER}': 2 entries",
        "ok: 4 chains hold (8 entries, 1 redacted)",
    ]
    chains = json.loads(run("verify", "--json").stdout)["chains"]
    alice = next(d for d in chains if d["writer"] == "alice")
    assert (alice["entries"], alice["redacted"]) == (3, 1)
    assert all("redacted" not in d for d in chains if d["writer"] != "alice")


def test_each_broken_chain_is_named_with_its_seq(
    run: Run, store: Store, shared: SharedState
) -> None:
    # an edited payload in bob's log, a deleted entry in alice's
    b2 = next(store.log("conv", "bob").entries(after=1))
    shared.logs.tamper("conv", "bob", 2, b2._replace(payload=b"B2"))
    shared.logs.tamper("conv", "alice", 2, None)
    result = run("verify")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "broken: stream 'conv', writer 'alice', seq 2: expected seq 2, found 3 (entry missing)",
        "broken: stream 'conv', writer 'bob', seq 2: content_hash does not match the payload",
        "2 of 4 chains broken",
    ]
    doc = json.loads(run("verify", "--json").stdout)
    assert doc["ok"] is False
    assert [(c["stream"], c["writer"], c["ok"], c.get("seq")) for c in doc["chains"]] == [
        ("conv", "alice", False, 2),
        ("conv", "bob", False, 2),
        ("ops", "cron", True, None),
        (AUDIT_STREAM, AUDIT_WRITER, True, None),
    ]


def test_a_tampered_audit_chain_is_named(run: Run, store: Store, shared: SharedState) -> None:
    store.audit.emit(AuditEntry("policy.update", detail={"n": 2}))
    first = next(iter(store.audit.records()))
    entries = list(shared.logs._entries(AUDIT_STREAM, AUDIT_WRITER, 0))
    shared.logs.tamper(AUDIT_STREAM, AUDIT_WRITER, 1, entries[0]._replace(payload=b"{}"))
    assert first.seq == 1
    result = run("verify")
    assert result.exit_code == 1
    assert (
        f"broken: stream '{AUDIT_STREAM}', writer '{AUDIT_WRITER}', seq 1: "
        "content_hash does not match the payload"
    ) in result.stdout.splitlines()


def test_filters(run: Run, store: Store, shared: SharedState, error_line: ErrorLine) -> None:
    tick = next(store.log("ops", "cron").entries())
    shared.logs.tamper("ops", "cron", 1, tick._replace(payload=b"tock"))
    assert run("verify").exit_code == 1
    only_conv = run("verify", "--stream", "conv", "-v")
    assert only_conv.exit_code == 0, only_conv.stdout
    assert only_conv.stdout.splitlines()[-1] == "ok: 2 chains hold (5 entries)"
    bob = run("verify", "--writer", "bob")
    assert bob.stdout == "ok: 1 chain holds (2 entries)\n"
    audit = run("verify", "--stream", AUDIT_STREAM)
    assert audit.stdout == "ok: 1 chain holds (1 entry)\n"
    nothing = run("verify", "--stream", "conv", "--writer", "cron")
    assert nothing.exit_code == 2
    assert (
        error_line(nothing) == "no chain matches --stream 'conv' --writer 'cron' in agentstore.toml"
    )


def test_progress_bar_goes_to_stderr_only(run: Run, store: Store) -> None:
    result = run("verify", "--progress")
    assert result.exit_code == 0
    assert "verifying" in result.stderr
    assert result.stdout == "ok: 4 chains hold (7 entries)\n"
    quiet = run("verify")
    assert quiet.stderr == ""


def _unreachable(config: NoConfig, ctx: object) -> object:
    raise BackendUnavailable("cannot reach 127.0.0.1:1 within 2 s")


def _failing_open(config: NoConfig, ctx: object) -> object:
    raise RuntimeError("lost redis://admin:hunter2@10.0.0.1:6379 while opening")


class _BuggyLogs(MemoryLogStore):
    def _logs(self) -> Iterator[tuple[str, str]]:
        raise RuntimeError("lost redis://admin:hunter2@10.0.0.1:6379 while listing")


def _buggy(config: NoConfig, ctx: OpenContext) -> DriverStores:
    stores = open_memory(ctx)
    stores.logs = _BuggyLogs()
    return stores


def test_unreachable_backend_is_one_line_exit_1(
    run: Run, registry: Registry, workdir: Path, error_line: ErrorLine
) -> None:
    registry.register(DriverSpec("down", open=_unreachable))
    (workdir / "agentstore.toml").write_text('[store]\nbackend = "down"\n')
    result = run("verify")
    assert result.exit_code == 1
    assert error_line(result) == "cannot reach 127.0.0.1:1 within 2 s"


def test_a_driver_failing_to_open_is_one_line_exit_1(
    run: Run, registry: Registry, workdir: Path, error_line: ErrorLine
) -> None:
    registry.register(DriverSpec("failing", open=_failing_open))
    (workdir / "agentstore.toml").write_text('[store]\nbackend = "failing"\n')
    result = run("verify")
    assert result.exit_code == 1
    assert "failed to open" in error_line(result)
    assert "hunter2" not in result.stderr


def test_a_driver_failing_mid_command_is_one_line_and_debug_shows_traceback(
    run: Run, registry: Registry, workdir: Path, error_line: ErrorLine
) -> None:
    registry.register(DriverSpec("buggy", open=_buggy))
    (workdir / "agentstore.toml").write_text('[store]\nbackend = "buggy"\n')
    result = run("verify")
    assert result.exit_code == 1
    line = error_line(result)
    assert "RuntimeError" in line
    assert "hunter2" not in result.stderr

    debug = run("--debug", "verify")
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == f"Error: {line}"


def test_errors_from_outside_agentstore_lose_url_credentials() -> None:
    from agentstore.cli.app import EXIT_FAILED, EXIT_USAGE, _to_cli_error

    err = _to_cli_error(RuntimeError("lost redis://admin:hunter2@10.0.0.1:6379\nwhile listing"))
    assert err.exit_code == EXIT_FAILED
    assert err.message == (
        "unexpected RuntimeError: lost redis://admin:***@10.0.0.1:6379 while listing "
        "(run `agentstore --debug ...` to see the traceback)"
    )
    assert _to_cli_error(PermissionError(13, "Permission denied", "x.db")).exit_code == 1
    assert _to_cli_error(agentstore.InvalidInput("bad")).exit_code == EXIT_USAGE


def test_policy_errors_are_exit_2(run: Run, workdir: Path, error_line: ErrorLine) -> None:
    (workdir / "agentstore.toml").write_text('[store]\nbackend = "postgres"\n')
    result = run("verify")
    assert result.exit_code == 2
    assert "pip install agentstore-postgres" in error_line(result)


def test_unknown_option_is_a_usage_error(run: Run) -> None:
    result = run("verify", "--strem", "x")
    assert result.exit_code == 2
    assert "No such option '--strem'. Did you mean '--stream'?" in result.stderr


def test_default_policy_store_is_used_without_config(
    run: Run, registry: Registry, shared: SharedState, workdir: Path
) -> None:
    # the same policy through $AGENTSTORE_CONFIG, as agentstore.open() finds it
    other = workdir / "elsewhere.toml"
    other.write_text('[store]\nbackend = "shared"\n')
    with agentstore.open(StorePolicy.load(other), registry=registry) as s:
        s.log("x", "y").append(b"z")
    result = run("--config", str(other), "verify")
    assert result.stdout == "ok: 1 chain holds (1 entry)\n"


def test_no_store_here_is_an_error_and_creates_nothing(
    run: Run, installed: Registry, workdir: Path, error_line: ErrorLine
) -> None:
    result = run("verify", reg=installed)
    assert result.exit_code == 2
    assert error_line(result).startswith("no store here: no ./agentstore.toml")
    assert list(workdir.iterdir()) == []


def test_the_default_store_in_the_working_folder_is_verified(
    run: Run, installed: Registry, workdir: Path
) -> None:
    with agentstore.open(registry=installed) as s:  # the default: ./agentstore.db
        s.log("conv", "alice").append_many([b"1", b"2"])
    assert (workdir / "agentstore.db").is_file()
    result = run("verify", reg=installed)
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 1 chain holds (2 entries)\n"


def test_a_mistyped_sqlite_path_is_refused_and_creates_nothing(
    run: Run, installed: Registry, workdir: Path, error_line: ErrorLine
) -> None:
    with agentstore.open(
        StorePolicy("sqlite", sections={"sqlite": {"path": str(workdir / "real.db")}}),
        registry=installed,
    ) as s:
        s.log("conv", "alice").append(b"1")
    policy = workdir / "agentstore.toml"
    policy.write_text('[store]\nbackend = "sqlite"\n[store.sqlite]\npath = "reel.db"\n')
    result = run("verify", reg=installed)
    assert result.exit_code == 2, result.output  # no store there: a usage error
    assert str(workdir / "reel.db") in error_line(result)
    assert "does not exist" in error_line(result)
    assert "holds no agentstore store" in error_line(result)
    assert sorted(p.name for p in workdir.iterdir()) == ["agentstore.toml", "real.db"]


# -- read only: verify, validate and drivers never write ------------------------------------


def _sqlite_policy(workdir: Path, db: str) -> Path:
    policy = workdir / "p.toml"
    policy.write_text(f'[store]\nbackend = "sqlite"\n[store.sqlite]\npath = "{db}"\n')
    return policy


def _sqlite_objects(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT type, name FROM sqlite_master ORDER BY name").fetchall()
    finally:
        conn.close()


def test_an_applications_own_sqlite_file_is_no_store_and_stays_untouched(
    run: Run, installed: Registry, workdir: Path, error_line: ErrorLine
) -> None:
    db = workdir / "app.db"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    conn.close()
    _sqlite_policy(workdir, "app.db")
    for command in (["verify"], ["validate"], ["drivers"], ["verify", "--json"]):
        result = run("--config", "p.toml", *command, reg=installed)
        if command == ["verify", "--json"]:
            assert result.exit_code == 2, result.output
            doc = json.loads(result.stdout)
            assert doc["ok"] is False
            assert str(db) in doc["error"] and "holds no agentstore store" in doc["error"]
        elif command[0] == "verify":
            assert result.exit_code == 2, result.output
            line = error_line(result)
            assert str(db) in line and "holds no agentstore store" in line
        else:
            assert result.exit_code == 0, result.output
    assert _sqlite_objects(db) == [("table", "t")]
    assert sorted(p.name for p in workdir.iterdir()) == ["app.db", "p.toml"]


def test_validate_and_drivers_create_no_database(
    run: Run, installed: Registry, workdir: Path
) -> None:
    _sqlite_policy(workdir, "new.db")
    assert run("--config", "p.toml", "validate", reg=installed).exit_code == 0
    assert run("--config", "p.toml", "drivers", reg=installed).exit_code == 0
    assert run("drivers", reg=installed).exit_code == 0
    assert sorted(p.name for p in workdir.iterdir()) == ["p.toml"]


def test_an_empty_store_agentstore_made_is_still_ok(
    run: Run, installed: Registry, workdir: Path
) -> None:
    policy = _sqlite_policy(workdir, "empty.db")
    agentstore.open(policy, registry=installed).close()
    result = run("--config", "p.toml", "verify", reg=installed)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: no chains to verify")


def test_a_0444_sqlite_file_is_verified_and_left_as_it_was(
    run: Run, installed: Registry, workdir: Path
) -> None:
    policy = _sqlite_policy(workdir, "ro.db")
    with agentstore.open(policy, registry=installed) as s:
        s.log("conv", "alice").append_many([b"1", b"2"])
    db = workdir / "ro.db"
    os.chmod(db, 0o444)
    before = db.read_bytes()
    result = run("--config", "p.toml", "verify", reg=installed)
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 1 chain holds (2 entries)\n"
    assert db.read_bytes() == before
    assert sorted(p.name for p in workdir.iterdir()) == ["p.toml", "ro.db"]


# -- stopped by a signal: no worker, no temporary folder, exit 130 / 143 ---------------------

# Runs `agentstore ARGS...` with every chunk of a parallel sqlite verify made slow (in this
# process and in its workers), so a signal surely lands while the workers run.
_SLOW = """
import sys, time

if sys.flags.no_site:  # a worker, started with -S: no site-packages, import it by path
    sys.path.insert(0, sys.argv.pop(1))
    import _verify_worker as w
else:
    import agentstore_sqlite._verify_worker as w

real = w.check_range


def slow(*args):
    time.sleep(0.1)
    return real(*args)


w.check_range = slow
if sys.flags.no_site:
    sys.exit(w.main(sys.argv))
from pathlib import Path

import agentstore_sqlite.logs as logs

logs._WORKER = Path(__file__)
store = logs.SqliteLogStore
store.PARALLEL_MIN_ENTRIES, store.MIN_ENTRIES_PER_WORKER, store.CHUNK_ROWS = 2, 1, 100
import subprocess

popen = subprocess.Popen


def with_folder(args, **kwargs):  # hand the worker the folder of the real worker module
    return popen([*args[:3], str(Path(w.__file__).parent), *args[3:]], **kwargs)


subprocess.Popen = with_folder
from agentstore.cli.app import main

main(sys.argv[1:])
"""


def _workers_of(script: Path) -> list[int]:
    """Live processes running ``script`` as a worker (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(script).encode() in cmdline and b"-S" in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="lists processes through /proc")
@pytest.mark.parametrize(
    ("signum", "group", "code", "word"),
    [(signal.SIGINT, True, 130, "interrupted"), (signal.SIGTERM, False, 143, "terminated")],
)
def test_a_signal_mid_verify_leaves_no_worker_and_no_temporary_folder(
    tmp_path: Path, signum: int, group: bool, code: int, word: str
) -> None:
    db = tmp_path / "big.db"
    policy = tmp_path / "p.toml"
    policy.write_text(
        f'[store]\nbackend = "sqlite"\n[store.sqlite]\npath = "{db}"\nverify_workers = 3\n'
    )
    with agentstore.open(policy) as s:
        s.log("s", "w").append_many([b"%d" % i for i in range(6_000)])
    script = tmp_path / "slow_agentstore.py"
    script.write_text(_SLOW)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.Popen(
        [sys.executable, str(script), "--config", str(policy), "verify"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + 60
        while len(_workers_of(script)) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.01)
        assert list(temp.iterdir())  # the claims folder exists meanwhile
        time.sleep(0.2)
        if group:  # Ctrl-C: the whole foreground process group gets SIGINT
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == code, (out, err)
    assert err.strip().splitlines() == [f"Error: {word}; the verify did not finish"]
    assert out == ""
    assert _workers_of(script) == []
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_before_verify_starts_exits_130_never_1(
    run: Run, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    # Ctrl-C while the policy is still being read (before verify's own signal handling):
    # click's default is "Aborted!" and exit 1, the code of a broken chain.
    def interrupted(path: object) -> NoReturn:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_app, "find_policy", interrupted)
    result = run("verify", *(["--json"] if as_json else []))
    assert result.exit_code == 130, result.output
    assert "Aborted" not in result.output
    if as_json:
        assert json.loads(result.stdout) == {"ok": False, "error": "interrupted"}
    else:
        assert result.stderr.strip() == "Error: interrupted"


def test_a_signal_the_process_ignores_stays_ignored_during_verify() -> None:
    # nohup and background jobs start with SIGINT ignored; verify must not turn it back on.
    from agentstore.cli.verify import stopped_by_signals

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with stopped_by_signals():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
