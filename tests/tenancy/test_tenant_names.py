"""Tenant names: strict, never folded; the stored form of a tenant's key is one-to-one and
no tenant (nor the store itself) can produce another tenant's stored key."""

from __future__ import annotations

import re
import unicodedata

import pytest
from agentstore import InvalidInput
from agentstore.checks import MAX_NAME_LENGTH, check_name
from agentstore.tenancy import TENANT_PREFIX, check_tenant, tenant_key, tenant_of
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

tenants = st.from_regex(LABEL, fullmatch=True)
names = st.text(min_size=1, max_size=MAX_NAME_LENGTH).filter(lambda s: "\x00" not in s)
anything = st.text(max_size=80)


@given(tenants)
def test_every_dns_label_is_a_tenant_and_kept_as_written(tenant: str) -> None:
    assert check_tenant(tenant) == tenant


@given(anything)
@example("ACME")
@example("acme\u200b")
@example("\u0430cme")  # Cyrillic a
@example("\uff41cme")  # full-width a
@example("acme\n")
@example("ac:me")
@example("a" * 64)
def test_anything_else_is_refused_never_folded(text: str) -> None:
    if LABEL.fullmatch(text):
        assert check_tenant(text) == text
        return
    with pytest.raises(InvalidInput, match="tenant name"):
        check_tenant(text)


@given(anything)
def test_an_accepted_name_is_its_own_normal_form(text: str) -> None:
    try:
        check_tenant(text)
    except InvalidInput:
        return
    assert text == text.lower() == text.casefold()
    assert text == unicodedata.normalize("NFKC", text)
    assert text.isascii() and ":" not in text and "/" not in text


@settings(max_examples=300)
@given(tenants, names, tenants, names)
def test_stored_keys_are_one_to_one(t1: str, n1: str, t2: str, n2: str) -> None:
    k1, k2 = tenant_key(t1, n1), tenant_key(t2, n2)
    assert (k1 == k2) == ((t1, n1) == (t2, n2))
    assert tenant_of(k1) == (t1, n1)
    assert k1.startswith(TENANT_PREFIX + t1 + ":")


@given(tenants, names, tenants)
def test_no_name_of_one_tenant_lands_in_another(t1: str, n1: str, t2: str) -> None:
    assume(t1 != t2)
    assert not tenant_key(t1, n1).startswith(tenant_key(t2, ""))


@given(names)
def test_a_name_outside_every_tenant_is_never_read_as_a_tenants(name: str) -> None:
    assume(not name.startswith(TENANT_PREFIX))
    assert tenant_of(name) is None


@given(tenants, names)
def test_a_tenant_name_is_a_usable_store_name_prefix(tenant: str, name: str) -> None:
    # What the tenant's stored names hold is text every driver already stores.
    stored = tenant_key(tenant, name)
    assert check_name(stored[:MAX_NAME_LENGTH], "name")
