"""``agentstore list``: what the governance stores hold, for an operator.

Each subcommand opens the store read-only (writing nothing), streams one listing in
sorted order (constant memory, whatever the store holds) and prints one key per line, or
JSON with ``--json``. ``credentials`` prints names only: a value is never read into the
listing, let alone printed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from agentstore.cli.errors import JSON_OPEN, CliError
from agentstore.errors import InvalidInput
from agentstore.policy import CONFIG_FILENAME, DEFAULT_SQLITE_PATH, StorePolicy
from agentstore.store import Store
from agentstore.types import AgentId, AgentInfo, SessionId

Listing = Callable[[Store, str | None], Iterator[Any]]
_END = object()


def _utc(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")


def _sessions(store: Store, after: str | None) -> Iterator[str]:
    start = None if after is None else SessionId.parse(after)
    return (str(sid) for sid in store.sessions.ids(after=start))


def _credentials(store: Store, after: str | None) -> Iterator[str]:
    return store.credentials.names(after=after)


def _policies(store: Store, after: str | None) -> Iterator[str]:
    start = None if after is None else AgentId.parse(after)
    return (str(agent) for agent in store.policies.agent_ids(after=start))


def _agents(store: Store, after: str | None) -> Iterator[AgentInfo]:
    start = None if after is None else AgentId.parse(after)
    return store.lifecycle.agents(after=start)


def _name_line(name: str) -> str:
    """A secret's name on one line: as it is, or quoted and escaped (its repr) when it
    holds a line break, a terminal escape or another unprintable character, so one name
    never prints as two, nor hides, nor passes for another. A name starting with a quote
    is quoted too: shown as it is, ``'a\\nb'`` would read as the name holding a line break."""
    return name if name.isprintable() and not name.startswith(("'", '"')) else repr(name)


def _agent_line(info: AgentInfo) -> str:
    return (
        f"{info.agent_id}  registered {_utc(info.registered_at)}  "
        f"last seen {_utc(info.last_heartbeat)}"
    )


def _agent_json(info: AgentInfo) -> dict[str, Any]:
    return {
        "agent_id": str(info.agent_id),
        "registered_at": info.registered_at,
        "last_heartbeat": info.last_heartbeat,
    }


# name -> (the listing, one line of text, one JSON value, what the help says it lists)
LISTINGS: dict[str, tuple[Listing, Callable[[Any], str], Callable[[Any], Any], str]] = {
    "sessions": (_sessions, str, str, "the id of every unexpired session"),
    "credentials": (_credentials, _name_line, str, "the name of every secret (never a value)"),
    "policies": (_policies, str, str, "the id of every agent with a stored policy"),
    "agents": (_agents, _agent_line, _agent_json, "every registered agent, with when last seen"),
}


def run_listing(
    store: Store, what: str, *, after: str | None, limit: int | None, as_json: bool
) -> int:
    """Print the listing ``what`` of ``store``, streamed; return how many were printed."""
    listing, line, value, _ = LISTINGS[what]
    items = listing(store, after)
    # The first item is read before anything is printed: an error opening the listing
    # (a driver that cannot list, say) leaves no half-printed JSON behind.
    first = next(items, _END)
    items = itertools.chain(() if first is _END else (first,), items)
    count = 0
    # Outside a click command (run_listing is public) there is no error handler to end a
    # half-printed document: nothing to tell, and no context to require.
    ctx = click.get_current_context(silent=True)
    meta: dict[str, Any] = ctx.meta if ctx is not None else {}
    if as_json:
        # "ok" comes last: an error half way ends this same document with "ok": false.
        click.echo(f'{{"{what}": [', nl=False)
        meta[JSON_OPEN] = True
    for item in items:
        if limit is not None and count >= limit:
            break
        if as_json:
            click.echo(("" if count == 0 else ", ") + json.dumps(value(item)), nl=False)
        else:
            click.echo(line(item))
        count += 1
    if as_json:
        click.echo('], "ok": true}')
        meta.pop(JSON_OPEN, None)
    return count


def make_command(what: str, cls: type[click.Command] = click.Command) -> click.Command:
    """The ``agentstore list WHAT`` command, of class ``cls``."""
    *_, lists = LISTINGS[what]

    @click.command(name=what, cls=cls, short_help=f"List {lists}.")
    @click.option("--after", metavar="KEY", help="Start after this key (resume a listing).")
    @click.option("--limit", type=click.IntRange(min=1), help="Print at most this many.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
    @click.option("--tenant", metavar="NAME", help="List what tenant NAME holds (store.tenant).")
    @click.pass_context
    def command(
        ctx: click.Context, after: str | None, limit: int | None, as_json: bool, tenant: str | None
    ) -> None:
        from agentstore.cli.app import _opts, load_policy, opened
        from agentstore.tenancy import check_tenant

        if tenant is not None:
            try:
                check_tenant(tenant)
            except InvalidInput as exc:
                raise click.BadParameter(exc.message, param_hint="--tenant") from None
        opts = _opts(ctx)
        policy = load_policy(opts)
        no_store_here(policy)
        with opened(opts, policy, read_only=True) as store:
            view = store if tenant is None else store.tenant(tenant)
            run_listing(view, what, after=after, limit=limit, as_json=as_json)

    command.help = (
        f"List {lists}, sorted, read from the store a page at a time (read-only). "
        "--after resumes past a key; --tenant lists one tenant's."
    )
    return command


def add_list_group(cli: click.Group, command_class: type[click.Command]) -> None:
    """Add ``agentstore list`` and its subcommands (of ``command_class``) to ``cli``."""

    @cli.group(name="list", short_help="List sessions, credentials (names only), policies, agents.")
    def list_group() -> None:
        """List what the governance stores hold: sessions, credentials (names only, never
        a value), policies, agents. Opens the store read-only and streams the listing."""

    for what in LISTINGS:
        list_group.add_command(make_command(what, command_class))


def no_store_here(policy: StorePolicy) -> None:
    """Refuse the default policy when its SQLite file does not exist: opening it would
    create ./agentstore.db just to find it empty."""
    if policy.source is None and not Path(DEFAULT_SQLITE_PATH).exists():
        raise CliError(
            f"no store here: no ./{CONFIG_FILENAME}, $AGENTSTORE_CONFIG is unset and "
            f"./{DEFAULT_SQLITE_PATH} does not exist; name a policy with --config"
        )


__all__ = ["LISTINGS", "add_list_group", "make_command", "no_store_here", "run_listing"]
