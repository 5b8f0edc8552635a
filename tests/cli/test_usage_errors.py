"""Errors click finds while parsing the command line (an unknown option, a bad value, a
missing file): one line on stderr, exit 2, and under ``--json`` a JSON error on stdout,
as every other error is."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

Run = Callable[..., Result]
ErrorLine = Callable[[Result], str]

BAD = [
    (["list", "credentials", "--limit", "0"], "'--limit': 0 is not in the range"),
    (["verify", "--trust", "no-such-trust.txt"], "'--trust': File 'no-such-trust.txt'"),
    (["verify", "--strem", "x"], "No such option '--strem'. Did you mean '--stream'?"),
    (["list", "bogus"], "No such command 'bogus'"),
    (["drivers", "extra"], "unexpected extra argument (extra)"),
    (["list", "credentials", "--tenant", "ac:me"], "tenant name 'ac:me' is not allowed"),
    (["--config", ".", "validate"], "'--config': File '.' is a directory"),
]


@pytest.mark.parametrize(("args", "said"), BAD)
def test_a_usage_error_is_one_line(
    run: Run, workdir: Path, error_line: ErrorLine, args: list[str], said: str
) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert said in error_line(result)
    assert result.stdout == ""


@pytest.mark.parametrize(("args", "said"), BAD)
def test_a_usage_error_under_json_is_json(
    run: Run, workdir: Path, args: list[str], said: str
) -> None:
    result = run(*args, "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert said in doc["error"]
    assert list(workdir.iterdir()) == []  # nothing was created


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "postgresql://auditor:s3cr3t-pw@db.internal/agents"],
        ["postgresql://auditor:s3cr3t-pw@db.internal/agents"],
        ["list", "credentials", "--limit", "host=db password=s3cr3t-pw"],
    ],
)
def test_a_usage_error_masks_a_password_it_quotes(
    run: Run, workdir: Path, error_line: ErrorLine, args: list[str]
) -> None:
    """Click quotes the argument it refused: a database URL given where a command takes
    none was printed whole, password included (on stdout too under --json)."""
    for result in (run(*args), run(*args, "--json")):
        assert result.exit_code == 2
        assert "s3cr3t-pw" not in result.output
        assert "***" in result.output
    assert "***" in error_line(run(*args))  # still one line


def test_help_is_still_help(run: Run) -> None:
    for args in ([], ["list"]):
        result = run(*args)
        assert "Usage: " in result.output
        assert "Commands:" in result.output
