"""The ``[store.postgres]`` section, validated without importing psycopg.

.. code-block:: toml

    [store.postgres]
    url = { env = "AGENTSTORE_POSTGRES_URL" }   # or host/port/user/dbname, see below
    schema = "agentstore"                       # created if missing
    pool_min_size = 1
    pool_max_size = 10
    connect_timeout = 5.0                       # seconds
    notify = false                              # LISTEN/NOTIFY doorbell across processes
    row_security = false                        # install tenant row-level security

A password is never written inline in a reviewed file: give it as ``password = { env =
"NAME" }``, inside a url that itself comes from ``{ env = "NAME" }``, or through libpq's own
``PGPASSWORD``/``~/.pgpass``; a policy built in code (``StorePolicy.from_dict``) may also
pass either as a pydantic ``SecretStr`` from the application's settings. Every repr of the
model hides it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from agentstore.driver import redact
from agentstore.errors import InvalidInput
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

DEFAULT_PORT: Final = 5432
DEFAULT_SCHEMA: Final = "agentstore"
URL_SCHEMES: Final = ("postgresql", "postgres")
_IDENTIFIER: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# libpq keywords the driver sets itself or that would carry a secret around the model.
_RESERVED_PARAMS: Final = frozenset(
    {"password", "passfile", "host", "hostaddr", "port", "user", "dbname", "connect_timeout"}
)
# What to write instead of each: a key of the section (passfile and hostaddr have none).
_INSTEAD: Final = {
    **{key: f"use the key {key}" for key in _RESERVED_PARAMS},
    "password": 'use the key password = { env = "NAME" }',
    "passfile": 'give the password as password = { env = "NAME" } (libpq\'s PGPASSFILE '
    "still applies)",
    "hostaddr": "use the key host",
}


def _by_reference(value: object) -> bool:
    """An ``{ env = "NAME" }`` reference, or a SecretStr an application passed in code."""
    return isinstance(value, SecretStr) or (isinstance(value, Mapping) and set(value) == {"env"})


def _split(url: str) -> tuple[str, str, str]:
    """A url's netloc, path and query, split as ``urlsplit`` splits them, even when it
    refuses the url (an unbalanced ``[``): such a url must still be named in messages and
    its password masked in libpq's error, which quotes the url whole."""
    try:
        parts = urlsplit(url)
    except ValueError:
        rest = url.split("://", 1)[1].partition("#")[0]
        before_query, _, query = rest.partition("?")
        netloc, slash, path = before_query.partition("/")
        return netloc, slash + path, query
    return parts.netloc, parts.path, parts.query


def url_has_password(url: str) -> bool:
    """True when a libpq url or ``key=value`` string carries a password."""
    if url.split("://", 1)[0] in URL_SCHEMES:
        netloc, _path, query = _split(url)
        userinfo = netloc.rpartition("@")[0]
        if ":" in userinfo:
            return True
        return any(k == "password" for k, _ in parse_qsl(query))
    return re.search(r"(^|\s)password\s*=", url) is not None


def url_target(url: str) -> tuple[str, str, str | None]:
    """``(host, port, dbname)`` a libpq url names, for messages; never reads the password.

    Hosts and ports keep libpq's comma-separated lists. Unset parts fall back to libpq's
    defaults (``localhost`` stands for the default, which may be a local socket).
    """
    host = port = dbname = None
    if url.split("://", 1)[0] in URL_SCHEMES:
        netloc, path, query_text = _split(url)
        hostlist = netloc.rpartition("@")[2]
        hosts, ports = [], []
        for item in hostlist.split(","):
            if item.startswith("["):  # [ipv6]:port
                h, _, rest = item[1:].partition("]")
                p = rest[1:] if rest.startswith(":") else ""
            else:
                h, _, p = item.partition(":")
            hosts.append(unquote(h))
            ports.append(p)
        host = ",".join(h for h in hosts if h) or None
        port = ",".join(p for p in ports if p) or None
        dbname = unquote(path.lstrip("/")) or None
        query = dict(parse_qsl(query_text))
    else:
        query = dict(re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", url))
        query = {k: v.strip("'") for k, v in query.items()}
    host = query.get("host", host) or "localhost"
    port = query.get("port", port) or str(DEFAULT_PORT)
    dbname = query.get("dbname", dbname)
    return host, port, dbname


def config_from(values: Mapping[str, Any]) -> PostgresConfig:
    """The :class:`PostgresConfig` of ``values`` given to a function (not read from a
    policy); a value it refuses is :class:`InvalidInput` naming the key, as every
    agentstore error is a StoreError, and never quoting the value (it may be a url)."""
    try:
        return PostgresConfig.model_validate(values)
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        key = ".".join(str(part) for part in err["loc"]) or "settings"
        message = str(err["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{key}: {message}. Nothing was changed.") from None


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to show): the core's
    :func:`agentstore.redact.redact`."""
    return redact(url)


class PostgresConfig(BaseModel):
    """Settings of the ``postgres`` driver, with defaults an operator would expect.

    Give either ``url`` (a libpq url or ``key=value`` string) or its parts; parts given
    beside a url override it. With neither, libpq's environment (``PGHOST``...) applies.

    Attributes:
        url: the connection string; may carry a password only when it comes from the
            environment (``url = { env = "NAME" }``).
        host, port, user, dbname: the parts, when no url is given (or to override one).
        password: only as ``{ env = "NAME" }`` in a policy file.
        schema_name: the schema holding agentstore's tables (``schema`` in TOML); created
            when missing. Each schema is a separate store in the same database.
        pool_min_size, pool_max_size: connections the pool keeps open and may open.
        connect_timeout: seconds before an unreachable server is reported; also the most a
            call waits for a free pooled connection.
        notify: announce committed appends with NOTIFY and ring this store's doorbell for
            appends committed by other stores on the same schema (LISTEN), across processes.
        row_security: when the store's owner opens it, install row-level security on its
            tables (:mod:`agentstore_postgres.rls`), so a role bound to a tenant with
            :func:`~agentstore_postgres.grant_tenant` reads and writes only that tenant's
            rows, even with its own SQL. False leaves the schema as it is (to take it out
            again, :func:`~agentstore_postgres.disable_row_security`).
        application_name: shown in ``pg_stat_activity``.
        params: further libpq parameters (``sslmode``, ``sslrootcert``...).
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        hide_input_in_errors=True,
        defer_build=True,
    )

    DEPRECATED_KEYS: ClassVar[Mapping[str, str]] = {"schema_name": "schema"}
    """Old input keys still read, each with the key to write instead (a DeprecationWarning
    names it)."""

    url: SecretStr | None = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    dbname: str | None = None
    password: SecretStr | None = None
    schema_name: str = Field(default=DEFAULT_SCHEMA, alias="schema")
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    connect_timeout: float = Field(default=5.0, gt=0, le=600)
    notify: bool = False
    row_security: bool = False
    application_name: str = "agentstore"
    params: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value()
        if not text.strip():
            raise ValueError("must not be empty")
        scheme = text.split("://", 1)[0] if "://" in text else None
        if scheme is not None and scheme not in URL_SCHEMES:
            # Show the scheme only: the rest of the url may hold a password.
            raise ValueError(
                f"must be a postgresql:// url or a libpq key=value string, not a {scheme}:// url"
            )
        if scheme is None and "=" not in text:
            raise ValueError("must be a postgresql:// url or a libpq key=value string")
        return value

    @field_validator("schema_name")
    @classmethod
    def _check_schema(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(
                "must be a plain lowercase identifier: a letter or _, then lowercase letters, "
                "digits or _, at most 63 characters"
            )
        if value.lower().startswith("pg_"):
            raise ValueError("names starting with pg_ are reserved by PostgreSQL")
        return value

    @field_validator("params")
    @classmethod
    def _check_params(cls, value: dict[str, str]) -> dict[str, str]:
        taken = sorted(_RESERVED_PARAMS & set(value))
        if taken:
            raise ValueError(
                "; ".join(f"{key} may not be set in params: {_INSTEAD[key]}" for key in taken)
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _warn_deprecated_keys(cls, data: Any) -> Any:
        # Deprecate, don't break: the old key still works, once per validation.
        if isinstance(data, Mapping):
            for old, new in cls.DEPRECATED_KEYS.items():
                if old in data:
                    warnings.warn(
                        f"the postgres key {old!r} is deprecated: write {new!r} instead "
                        f"({old!r} is still read as {new!r} for now)",
                        DeprecationWarning,
                        stacklevel=2,
                    )
        return data

    @model_validator(mode="before")
    @classmethod
    def _secrets_by_reference(cls, data: Any, info: ValidationInfo) -> Any:
        # The policy hands us the section as written (env references unresolved) in the
        # context, so a password typed into a reviewed file is refused, not just hidden.
        raw = (info.context or {}).get("section")
        if not isinstance(raw, Mapping):
            return data
        if "password" in raw and not _by_reference(raw["password"]):
            raise ValueError(
                'password must not be written inline: write password = { env = "NAME" }'
            )
        url = raw.get("url")
        if isinstance(url, str) and url_has_password(url):
            raise ValueError(
                'url must not carry a password inline: write url = { env = "NAME" } '
                'or password = { env = "NAME" }'
            )
        return data

    @model_validator(mode="after")
    def _check_pool(self) -> PostgresConfig:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(
                f"pool_min_size ({self.pool_min_size}) exceeds pool_max_size ({self.pool_max_size})"
            )
        return self

    # -- derived values -----------------------------------------------------------------

    @property
    def target(self) -> str:
        """``host:port/dbname`` this config connects to, for messages (no credentials)."""
        host, port, dbname = self._where()
        return f"{host}:{port}" + (f"/{dbname}" if dbname else "")

    @property
    def host_port(self) -> str:
        """``host:port`` (lists joined as libpq writes them)."""
        host, port, _ = self._where()
        return f"{host}:{port}"

    def _where(self) -> tuple[str, str, str | None]:
        if self.url is not None:
            host, port, dbname = url_target(self.url.get_secret_value())
        else:
            host, port, dbname = "localhost", str(DEFAULT_PORT), None
        host = self.host or host
        port = str(self.port) if self.port is not None else port
        return host, port, self.dbname or dbname

    def connect_kwargs(self) -> dict[str, Any]:
        """libpq parameters beside the url (secrets included: never show this)."""
        kwargs: dict[str, Any] = {
            "connect_timeout": max(1, round(self.connect_timeout)),
            "application_name": self.application_name,
            **self.params,
        }
        for key in ("host", "port", "user", "dbname"):
            if getattr(self, key) is not None:
                kwargs[key] = getattr(self, key)
        if self.password is not None:
            kwargs["password"] = self.password.get_secret_value()
        return kwargs

    def secrets(self) -> list[str]:
        """Every secret string in this config, for scrubbing messages."""
        found: list[str] = []
        if self.password is not None and self.password.get_secret_value():
            found.append(self.password.get_secret_value())
        if self.url is not None:
            text = self.url.get_secret_value()
            found.extend(_url_passwords(text))
        return found

    def __repr__(self) -> str:
        url = None if self.url is None else redact_url(self.url.get_secret_value())
        shown = {
            "url": url,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": self.dbname,
            "password": None if self.password is None else "***",
            "schema": self.schema_name,
            "pool_min_size": self.pool_min_size,
            "pool_max_size": self.pool_max_size,
            "connect_timeout": self.connect_timeout,
            "notify": self.notify,
            "row_security": self.row_security or None,
        }
        inner = ", ".join(f"{k}={v!r}" for k, v in shown.items() if v is not None)
        return f"PostgresConfig({inner})"

    __str__ = __repr__


def _url_passwords(url: str) -> list[str]:
    found: list[str] = []
    if url.split("://", 1)[0] in URL_SCHEMES:
        netloc, _path, query = _split(url)
        userinfo = netloc.rpartition("@")[0]
        if ":" in userinfo:
            raw = userinfo.split(":", 1)[1]
            found.extend({raw, unquote(raw)})
        found.extend(v for k, v in parse_qsl(query) if k == "password")
    else:
        for m in re.finditer(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", url):
            found.extend({m.group(1), m.group(1).strip("'")})
    return [s for s in found if s]


__all__ = [
    "DEFAULT_SCHEMA",
    "PostgresConfig",
    "config_from",
    "redact_url",
    "url_has_password",
    "url_target",
]
