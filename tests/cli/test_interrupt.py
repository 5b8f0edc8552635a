"""Ctrl-C (SIGINT) at any moment of any command: one line, ``Error: interrupted``, exit 130.

Never a traceback (during the imports, before the CLI's own handling), never click's
"Aborted!" and exit 1 (the code of a broken chain).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import click
import pytest
from agentstore.cli import app as cli_app
from click.testing import Result

Run = Callable[..., Result]
SCRIPT = Path(sys.executable).parent / "agentstore"


@pytest.fixture(autouse=True)
def _sigint_handled() -> Iterator[None]:
    """Children start with SIGINT's default action, as from a terminal, even when these
    tests run in a shell's background job (started with SIGINT ignored, which a child would
    inherit): a handled signal is reset to its default on exec, an ignored one is not."""
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _raise(*args: object, **kwargs: object) -> NoReturn:
    raise KeyboardInterrupt


def _interrupted(result: Result) -> None:
    assert result.exit_code == 130, result.output
    assert result.stderr.strip() == "Error: interrupted"
    assert "Aborted" not in result.output


def test_ctrl_c_while_the_group_runs_exits_130(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_app, "_opts", _raise)  # the group's callback, before a command
    _interrupted(run("drivers"))


def test_ctrl_c_while_click_parses_the_arguments_exits_130(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(click.Group, "parse_args", _raise)
    _interrupted(run("drivers"))


def test_ctrl_c_while_click_closes_the_context_exits_130(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(click.Context, "close", _raise)
    _interrupted(run("drivers"))


def test_main_turns_a_keyboard_interrupt_that_reaches_it_into_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_app.cli, "main", _raise)
    with pytest.raises(SystemExit) as info:
        cli_app.main(["drivers"])
    assert info.value.code == 130
    assert capsys.readouterr().err == "Error: interrupted\n"


def test_the_shim_says_interrupted_and_ignores_a_second_ctrl_c(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import _agentstore_cli

    before = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as info:
            _agentstore_cli.interrupted()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
    assert info.value.code == 130
    assert capsys.readouterr().err == "Error: interrupted\n"


@pytest.mark.skipif(not SCRIPT.is_file(), reason="the console script is not installed")
def test_the_console_script_runs_the_shim() -> None:
    assert "from _agentstore_cli import main" in SCRIPT.read_text()


# Delays after the first import that ends once the interpreter's own start-up (its ``site``
# import) is done: a SIGINT before that is CPython's to report, before any code of the
# console script runs. With the shim that first import is the shim itself; before it, it was
# one deep inside the ~0.5 s of the CLI's imports.
# Fractions of the command's own run time (measured first, uninterrupted), so that the
# delays land while it runs however fast the machine is today.
FRACTIONS = (0.0, 0.01, 0.04, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75)
COMMANDS = (["drivers"], ["validate"], ["verify"], ["list", "agents"])


def _start(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """The console script running ``command``, read up to the end of its ``site`` import."""
    # -X importtime reports each import as it ends, so the delays count from the first
    # one after "| site" whatever the machine's load.
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", str(SCRIPT), *command],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    while len(seen) < 2 or not seen[-2].rstrip().endswith("| site"):
        line = proc.stderr.readline()
        assert line, f"{command}: no import reported after site: {seen}"
        seen.append(line)
    return proc


def _run_time(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Seconds ``command`` runs after its ``site`` import, uninterrupted."""
    proc = _start(command, cwd, env)
    start = time.monotonic()
    proc.communicate(timeout=60)
    return time.monotonic() - start


@pytest.mark.skipif(not SCRIPT.is_file(), reason="the console script is not installed")
def test_sigint_early_in_a_real_command_is_one_line_and_exit_130(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AGENTSTORE_CONFIG"}
    runs = {tuple(c): _run_time(c, tmp_path, env) for c in COMMANDS}
    outcomes = {tuple(c): _outcome(c, tmp_path, env) for c in COMMANDS}
    hit = 0
    for i, fraction in enumerate(FRACTIONS):
        command = COMMANDS[i % len(COMMANDS)]
        delay = fraction * runs[tuple(command)]
        proc = _start(command, tmp_path, env)
        try:
            time.sleep(delay)
            if proc.poll() is not None:
                proc.communicate()
                continue  # finished first: nothing to interrupt at this delay
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        said = [line for line in err.splitlines() if not line.startswith("import time:")]
        assert "Traceback" not in err, f"{command} after {delay}s:\n{err}"
        if (proc.returncode, said) == outcomes[tuple(command)]:
            continue  # landed after the command had its outcome, which stands
        assert proc.returncode == 130, (command, delay, proc.returncode, said)
        assert said == ["Error: interrupted"], (command, delay)
        hit += 1
    assert hit >= len(FRACTIONS) - 3, "most delays must land while the command runs"


def _outcome(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, list[str]]:
    """Exit code and stderr lines of ``command`` run uninterrupted."""
    done = subprocess.run(
        [str(SCRIPT), *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stderr.splitlines()


@pytest.mark.skipif(not SCRIPT.is_file(), reason="the console script is not installed")
def test_a_ctrl_c_after_the_outcome_leaves_output_and_exit_code(tmp_path: Path) -> None:
    # The signal arrives while the interpreter shuts down (an atexit callback runs then),
    # after the command has printed and chosen its exit code: both stand, no traceback and
    # no death by signal.
    code = (
        "import atexit, os, signal, sys, time\n"
        "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.2)))\n"
        "sys.argv = ['agentstore', 'drivers']\n"
        "from _agentstore_cli import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert "memory" in done.stdout


def test_a_process_started_ignoring_sigint_keeps_ignoring_it(tmp_path: Path) -> None:
    # nohup and background jobs start with SIGINT ignored: the shim must not turn it on.
    code = (
        "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); import _agentstore_cli; "
        "assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN; print('ignored')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "ignored\n", "")


def test_ctrl_c_in_an_import_that_wraps_it_is_still_one_line_and_exit_130(
    tmp_path: Path,
) -> None:
    # Python 3.11 turns a KeyboardInterrupt raised in a class body's __set_name__ into a
    # RuntimeError; a stand-in agentstore package is interrupted exactly there.
    package = tmp_path / "stand-in" / "agentstore"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import os, signal\n"
        "class Named:\n"
        "    def __set_name__(self, owner, name):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        sum(range(100_000))\n"
        "class Owner:\n"
        "    named = Named()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    done = subprocess.run(
        [sys.executable, "-c", "from _agentstore_cli import main; main()"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (130, "Error: interrupted\n")


def test_a_keyboard_interrupt_wrapped_in_another_error_is_an_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import _agentstore_cli

    def wrapped(*args: object, **kwargs: object) -> NoReturn:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise RuntimeError("Error calling __set_name__") from interrupt

    monkeypatch.setattr(cli_app, "main", wrapped)
    before = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as info:
            _agentstore_cli.main()
    finally:
        signal.signal(signal.SIGINT, before)
    assert info.value.code == 130
    assert capsys.readouterr().err == "Error: interrupted\n"


def test_a_command_error_caused_by_ctrl_c_exits_130(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def wrapped(*args: object, **kwargs: object) -> NoReturn:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("a lazy import was interrupted") from None  # context kept

    monkeypatch.setattr(cli_app, "_opts", wrapped)
    _interrupted(run("drivers"))


def test_only_an_error_from_a_keyboard_interrupt_counts_as_one() -> None:
    from agentstore.cli.errors import caused_by_interrupt

    plain = ValueError("bad")
    looped = RuntimeError("loop")
    looped.__context__ = ValueError("inner")
    looped.__context__.__context__ = looped
    assert not caused_by_interrupt(plain)
    assert not caused_by_interrupt(looped)
    assert caused_by_interrupt(KeyboardInterrupt())


def test_importing_the_cli_leaves_sigint_alone() -> None:
    """Only the console script's shim replaces the SIGINT handler: the CLI once imported
    the shim, so any process importing agentstore.cli died on Ctrl-C by os._exit (no
    clean-up ran), and importing it from a thread other than the main one failed."""
    code = (
        "import signal, threading\n"
        "failed = []\n"
        "def load():\n"
        "    try:\n"
        "        import agentstore.cli.errors\n"
        "    except BaseException as exc:\n"
        "        failed.append(repr(exc))\n"
        "t = threading.Thread(target=load); t.start(); t.join()\n"
        "import agentstore.cli\n"
        "import sys\n"
        "print(failed, signal.getsignal(signal.SIGINT) is signal.default_int_handler,\n"
        "      '_agentstore_cli' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert (done.returncode, done.stdout.strip()) == (0, "[] True False"), done.stderr
