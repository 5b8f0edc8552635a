"""grant_tenant, revoke_tenant and disable_row_security refuse bad settings as every
agentstore call does: a StoreError (InvalidInput for a bad value), never pydantic's or
urllib's own exception, and never showing a password."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import agentstore_postgres
import pytest
from agentstore import InvalidInput, StoreError

SECRET = "Rls-Sekr1t-0xBEEF"

CALLS: list[Callable[..., Any]] = [
    lambda url, schema: agentstore_postgres.grant_tenant(
        url, role="nobody_at_all", tenant="b", schema=schema
    ),
    lambda url, schema: agentstore_postgres.revoke_tenant(url, role="nobody_at_all", schema=schema),
    lambda url, schema: agentstore_postgres.disable_row_security(url, schema=schema),
]


def shown(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


@pytest.mark.parametrize("call", CALLS)
def test_a_bad_schema_name_is_invalid_input(call: Callable[..., Any]) -> None:
    url = f"postgresql://someone:{SECRET}@127.0.0.1:1/test"
    with pytest.raises(InvalidInput) as info:
        call(url, "Bad-Schema")
    assert "schema" in str(info.value)
    assert "lowercase identifier" in str(info.value)
    assert SECRET not in shown(info.value)


@pytest.mark.parametrize("call", CALLS)
def test_a_malformed_url_is_a_store_error_without_its_password(call: Callable[..., Any]) -> None:
    with pytest.raises(StoreError) as info:
        call(f"postgresql://someone:{SECRET}@[::1/test", "agentstore")
    assert "invalid PostgreSQL connection settings" in str(info.value)
    assert SECRET not in shown(info.value)
