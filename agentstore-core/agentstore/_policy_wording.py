"""How a policy's problems are worded: one line naming the TOML path and the fix.

Messages name paths, keys and driver names, never a value: a value may be a secret.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from agentstore.errors import ConfigError, InvalidPolicy

_PYDANTIC_PREFIXES: Final = ("Value error, ", "Assertion failed, ")
_PASSWORD_KEY: Final = re.compile(r"\w*(?:password|passwd|pwd)", re.IGNORECASE)
_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(\S*)")
_PASSWORD_PAIR: Final = re.compile(r"(?:^|[\s?&;])password\s*=", re.IGNORECASE)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` (case ignored), else ``""``."""
    options = list(dict.fromkeys(choices))
    by_lower = {c.lower(): c for c in options}
    hit = by_lower.get(word.lower())
    if hit is None:
        import difflib  # only on this error path: it is slow to import

        close = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
        hit = by_lower[close[0]] if close else None
    return f"; did you mean {hit!r}?" if hit is not None and hit != word else ""


def looks_like_env_ref(value: object) -> bool:
    """A one-key inline table of a string whose key is a near miss of ``env``
    (``{ evn = "X" }``, ``{ ENV = "X" }``, ``{ envvar = "X" }``)."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    ((key, name),) = value.items()
    if not isinstance(key, str) or key == "env" or not isinstance(name, str):
        return False
    lower = key.lower()
    return lower.startswith("env") or _one_edit(lower, "env")


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with one letter added, removed, changed, or two swapped."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
        return len(diff) == 1 or (swapped and a[diff[1]] == b[diff[0]])
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def malformed_env_ref(key: str) -> str:
    return (
        f'malformed {{ env = "NAME" }} reference (it has the key {key!r}): '
        'write { env = "NAME" } and nothing else'
    )


def model_keys(model: type[BaseModel]) -> list[str]:
    """The keys a section validated by ``model`` accepts, as a policy writes them."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _at(section: Mapping[str, Any], loc: tuple[int | str, ...]) -> object:
    value: object = section
    for part in loc:
        inside = (isinstance(value, Mapping) and part in value) or (
            isinstance(value, list) and isinstance(part, int) and part < len(value)
        )
        if not inside:
            return None
        value = value[part]  # type: ignore[index]
    return value


def validation_message(
    exc: ValidationError,
    prefix: str,
    *,
    model: type[BaseModel] | None = None,
    section: Mapping[str, Any] | None = None,
    skip: frozenset[str] = frozenset(),
) -> InvalidPolicy | None:
    """The one-line InvalidPolicy for a driver model's ``exc``, paths under ``prefix``.

    Built from locations and pydantic's messages only, never the input. Errors about a
    key in ``skip`` (or a missing key) are left out; None when nothing is left.
    """
    errors = [
        e
        for e in exc.errors(include_input=False, include_url=False)
        if not (skip and (e["type"] == "missing" or (e["loc"] and str(e["loc"][0]) in skip)))
    ]
    if not errors:
        return None
    err = errors[0]
    loc = tuple(err["loc"])
    path = ".".join([prefix, *(str(p) for p in loc)])
    raw = _at(section or {}, loc)
    table = f"[{prefix}]"
    if err["type"] == "extra_forbidden" and len(loc) == 1 and model is not None:
        keys = model_keys(model)
        key = str(loc[0])
        message = (
            f"unknown key {key!r} in {table}{did_you_mean(key, keys)} "
            f"(the keys are {', '.join(keys) or 'none'})"
        )
    elif err["type"] == "missing" and len(loc) == 1:
        message = f"required key missing: add {loc[0]} = ... to {table}"
    elif isinstance(raw, Mapping) and looks_like_env_ref(raw):
        message = malformed_env_ref(str(next(iter(raw))))
    elif isinstance(raw, Mapping) and err["type"].endswith(("_type", "_parsing")):
        message = (
            'expected a value or an environment reference { env = "NAME" }, not a table '
            "holding other keys"
        )
    else:
        message = str(err["msg"])
        for noise in _PYDANTIC_PREFIXES:
            message = message.removeprefix(noise)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return InvalidPolicy(f"{message}{more}", path=path)


def holds_password(value: str) -> bool:
    """Whether ``value`` is a URL or libpq string carrying a password."""
    url = _URL.match(value)
    if url is not None:
        userinfo = url.group(1).rpartition("@")[0]
        if ":" in userinfo.split("/", 1)[0]:
            return True
    return _PASSWORD_PAIR.search(value) is not None


def inline_password(section: Mapping[str, Any], path: str) -> InvalidPolicy | None:
    """An InvalidPolicy for the first password typed into ``section``, if any.

    A password is a literal string under a password-like key (``password``,
    ``sslpassword``...) or inside a URL or libpq string. ``{ env = "NAME" }`` is never one.
    """
    for key, value in section.items():
        where = f"{path}.{key}"
        if isinstance(value, Mapping):
            if set(value) == {"env"}:
                continue
            found = inline_password(value, where)
            if found is not None:
                return found
        elif isinstance(value, str) and value:
            named = isinstance(key, str) and _PASSWORD_KEY.fullmatch(key) is not None
            if named or holds_password(value):
                what = "a password" if named else "a url or connection string with a password"
                return InvalidPolicy(
                    f"{what} must not be written inline in a policy: write "
                    f'{key} = {{ env = "NAME" }} and set that variable (in code, '
                    "StorePolicy.from_dict also takes a pydantic SecretStr)",
                    path=where,
                )
    return None


_SQLITE_SUFFIXES: Final = (".db", ".sqlite", ".sqlite3", ".db3")
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
POLICY_EXPECTED: Final = "a policy file is expected here"
_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):/(/?)(.*)", re.DOTALL)
_URL_DRIVERS: Final = {"postgresql": "postgres", "postgres": "postgres", "redis": "redis"}


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string is a JSON string


def _is_sqlite_file(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def database_hint(
    source: object, opens: str = "agentstore.open() takes a policy file or a StorePolicy"
) -> str | None:
    """Why ``source`` is not a policy file, when it is a database URL or a SQLite file,
    with the two-line policy to write instead; None when it may be a policy file.

    A URL is never echoed (it may carry a password); a path is.
    """
    opens = f"{opens}, not a"
    text = os.fspath(source) if isinstance(source, str | os.PathLike) else None
    if not isinstance(text, str):
        return None
    # A Path made of a URL folds its "//" to "/": both forms are a URL here.
    url = _SCHEME.match(text)
    if url is not None:
        scheme, rest = url.group(1).lower(), url.group(3)
        if scheme == "sqlite":  # sqlite:///relative.db, sqlite:////absolute.db
            path = _toml_string(rest[1:] if rest.startswith("/") else rest)
            return (
                f"{opens} database URL: write a policy file of the two lines "
                f"`[store.sqlite]` and `path = {path}`, then open that file"
            )
        driver = _URL_DRIVERS.get(scheme.split("+")[0], "postgres")
        var = f"AGENTSTORE_{driver.upper()}_URL"
        return (
            f"{opens} database URL: write a policy file of the two lines "
            f'`store.backend = "{driver}"` and `store.{driver}.url = {{ env = "{var}" }}`, '
            f"set {var} to the URL, and open that file"
        )
    missing = not os.path.isfile(text)
    if _is_sqlite_file(text) or (missing and text.lower().endswith(_SQLITE_SUFFIXES)):
        return (
            f"{opens} database file: write a policy file (agentstore.toml) of the two lines "
            f"`[store.sqlite]` and `path = {_toml_string(text)}`, then open that file "
            "(a relative path is taken from the policy file's folder)"
        )
    return None


def repath(exc: ConfigError, paths: Mapping[str, str]) -> ConfigError:
    """``exc`` with its TOML path as the file wrote it (``storage.x`` for ``store.x``)."""
    if exc.path is None or not paths:
        return exc
    written = written_path(exc.path, paths)
    if written == exc.path:
        return exc
    again = type(exc)(exc.message.removeprefix(f"{exc.path}: "), path=written)
    again.__cause__ = exc.__cause__
    again.__suppress_context__ = True
    return again


def written_path(path: str, paths: Mapping[str, str]) -> str:
    for canonical in sorted(paths, key=len, reverse=True):
        if path == canonical or path.startswith(canonical + "."):
            return paths[canonical] + path[len(canonical) :]
    return path


__all__ = [
    "POLICY_EXPECTED",
    "database_hint",
    "did_you_mean",
    "holds_password",
    "inline_password",
    "looks_like_env_ref",
    "malformed_env_ref",
    "model_keys",
    "repath",
    "validation_message",
    "written_path",
]
