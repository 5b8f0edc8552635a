"""A postgres policy built in code from an application's settings: the url and the
password as pydantic SecretStr values open a real store, and nothing shows them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import agentstore
import psycopg
import pytest
from agentstore import InvalidPolicy, StorePolicy
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr

SECRET = "In-Code-pw-0xBADC0DE"


@pytest.fixture
def role(pg_conn: psycopg.Connection[Any]) -> Iterator[str]:
    """A login role whose password is SECRET."""
    name = f"agentstore_test_code_{uuid.uuid4().hex[:8]}"
    pg_conn.execute(f"CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{SECRET}'")
    try:
        yield name
    finally:
        pg_conn.execute(f"DROP OWNED BY {name} CASCADE")
        pg_conn.execute(f"DROP ROLE {name}")


class AppSettings:
    """Stands for an application's pydantic-settings object."""

    def __init__(self, url: str, password: str) -> None:
        self.database_url = SecretStr(url)
        self.database_password = SecretStr(password)


@pytest.mark.parametrize("how", ["url", "password"])
def test_secretstr_settings_open_a_store_and_stay_hidden(
    how: str,
    role: str,
    pg_url: str,
    pg_schema: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = AppSettings(make_conninfo(pg_url, user=role, password=SECRET), SECRET)
    section: dict[str, Any] = {"schema": pg_schema}
    if how == "url":
        section["url"] = settings.database_url
    else:
        section.update(url=SecretStr(make_conninfo(pg_url, user=role)))
        section["password"] = settings.database_password
    policy = StorePolicy.from_dict({"backend": "postgres", "postgres": section})
    caplog.set_level(logging.DEBUG)
    texts = [repr(policy), str(policy), repr(policy.to_dict())]
    with agentstore.open(policy) as store:
        entry = store.log("s", writer="w").append(b"x")
        assert store.log("s", writer="w").verify() == 1
        config = policy.resolve().drivers["postgres"][1]
        texts += [repr(store), repr(config), str(config)]
        user = store.policies._backend.query("SELECT current_user")  # type: ignore[attr-defined]
    assert entry.seq == 1
    assert user[0][0] == role  # it connected as the role the settings name
    with pytest.raises(InvalidPolicy) as info:
        policy.dumps()
    texts.append(str(info.value))
    names = {f"store.postgres.{k}": f"APP_{k.upper()}" for k in ("url", "password")}
    written = policy.dumps(env={k: v for k, v in names.items() if k[15:] in section})
    assert 'url = { env = "APP_URL" }' in written
    texts += [written, caplog.text, *(r.getMessage() for r in caplog.records)]
    assert caplog.records
    for text in texts:
        assert SECRET not in text
