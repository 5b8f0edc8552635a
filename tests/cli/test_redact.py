"""Secrets in the text of unexpected errors are masked before the CLI prints them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from agentstore import Registry
from agentstore.cli.app import _redact
from agentstore.driver import DriverSpec, OpenContext
from agentstore.registry import DriverStores, NoConfig
from click.testing import Result


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("postgresql://u:pw1@host/db", "pw1", "postgresql://u:***@host/db"),
        ("postgresql://u:p@ss@host/db", "p@ss", "postgresql://u:***@host/db"),
        ("postgresql://u:pa/ss@host:5432/db", "pa/ss", "postgresql://u:***@host:5432/db"),
        ("redis://:s3cr@t@127.0.0.1:6379/0 failed", "s3cr@t", "***@127.0.0.1:6379/0 failed"),
        ("connect 'postgres://a:b@c@h/d' refused", "b@c", "'postgres://a:***@h/d' refused"),
        ("postgresql://us@er:pw@host/db", "pw", "postgresql://***@host/db"),
        ("postgresql://token@host/db", "token", "postgresql://***@host/db"),
        ("host=h password=secret dbname=d", "secret", "host=h password=*** dbname=d"),
        ("host=h password = 'se cr\\'et' dbname=d", "cr\\'et", "password=*** dbname=d"),
        ('password="a b" port=5', "a b", "password=*** port=5"),
        ("PASSWORD=Secret", "Secret", "PASSWORD=***"),
        ("user=u sslpassword=hunter2", "hunter2", "sslpassword=***"),
        ("DB_PASSWORD=hunter3 next", "hunter3", "DB_PASSWORD=*** next"),
        ("pg://h/db?user=u&password=pw&sslmode=require", "pw", "password=***"),
    ],
)
def test_redact_masks_passwords(text: str, secret: str, kept: str) -> None:
    out = _redact(text)
    assert secret not in out
    assert kept in out


def test_the_cli_and_the_postgres_driver_share_one_redaction() -> None:
    from agentstore.redact import redact
    from agentstore_postgres.config import redact_url

    url = "postgresql://app:p@ss@db/x?sslmode=require"
    assert (
        _redact(url)
        == redact_url(url)
        == redact(url)
        == "postgresql://app:***@db/x?sslmode=require"
    )


def test_redact_leaves_text_without_secrets_alone() -> None:
    text = "cannot open /srv/data/agentstore.db: no such file (see https://example.org/x)"
    assert _redact(text) == text


def test_an_unexpected_error_never_prints_the_password(
    run: Callable[..., Result], registry: Registry, workdir: object
) -> None:
    def _open(config: NoConfig, ctx: OpenContext) -> DriverStores:
        raise RuntimeError("could not reach postgresql://app:p@ss/w0rd@db:5432/x password=p@ss")

    registry.register(DriverSpec("leaky", open=_open))
    (workdir / "agentstore.toml").write_text('[store]\nbackend = "leaky"\n')  # type: ignore[operator]
    result = run("verify")
    assert result.exit_code == 1
    assert "p@ss" not in result.output + result.stderr
    assert "w0rd" not in result.output + result.stderr
