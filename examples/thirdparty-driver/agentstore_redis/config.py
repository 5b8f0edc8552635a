"""The ``[store.redis]`` section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_URL = "redis://127.0.0.1:6379/0"


class RedisConfig(BaseModel):
    """Settings of the ``redis`` driver; every field has a default.

    The URL may carry a password: it is a ``SecretStr``, so it never shows in a repr, and
    errors name only the host and port.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    url: SecretStr = Field(
        SecretStr(DEFAULT_URL),
        description='redis:// or rediss:// URL; write it { env = "NAME" } if it holds a password',
    )
    prefix: str = Field(
        "agentstore:", description="every key starts with it; one prefix is one store"
    )
    connect_timeout: float = Field(
        3.0, gt=0, description="seconds to reach the server before BackendUnavailable"
    )
    socket_timeout: float = Field(10.0, gt=0, description="seconds one command may take")

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: SecretStr) -> SecretStr:
        scheme = value.get_secret_value().partition("://")[0]
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or any(c.isspace() for c in value):
            raise ValueError("must be non-empty and hold no whitespace")
        return value
