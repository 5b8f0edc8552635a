"""What every contract class shares: the base class, its fixtures and helpers."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import ClassVar, TypeVar

import pytest
from blake3 import blake3

import agentstore
from agentstore.capabilities import CapabilityName
from agentstore.conformance.support import (
    ConformanceSupport,
    FakeClock,
    TamperRefused,
    load_support,
    log_store_of,
    tamper_via_log_store,
)
from agentstore.policy import StorePolicy
from agentstore.registry import Registry, default_registry
from agentstore.spec import DriverSpec
from agentstore.store import Store
from agentstore.types import (
    Entry,
)

T = TypeVar("T")

THREADS = 8
"""How many threads the concurrency tests race."""

HELLO_WORLD_HASH = "d74981efa70a0c880b8d8c1985d075dbcbf679b99a5f9914e5aaf96b831a9e24"
"""BLAKE3(b"hello world"): the genesis hash of a log whose first payload is b"hello world"."""
SECOND_HASH = "6c3cf60fc6ef27210eac15152ee2d13e044dc6c878dd090e81df22e7b22e4cef"
"""BLAKE3(HELLO_WORLD_HASH bytes || b"second"): the hash of the entry after it."""

BAD_PAYLOADS: tuple[object, ...] = ("text", 7, None, [1, 2], 1.5)
"""Payloads a log must refuse with InvalidInput (it takes bytes only)."""


def b3(data: bytes) -> bytes:
    return blake3(data).digest()


def run_threads(count: int, target: Callable[[int], T], timeout: float = 60.0) -> list[T]:
    """Run ``target(i)`` for i in range(count) on as many threads, released together.

    Returns the results in index order; re-raises the first exception; fails (rather
    than hangs) when a thread does not finish within ``timeout``.
    """
    barrier = threading.Barrier(count)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(timeout)
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if any(t.is_alive() for t in threads):
        pytest.fail(f"a thread did not finish within {timeout} s (deadlock?)")
    if errors:
        raise errors[0]
    return [results[i] for i in range(count)]


def capability_of(cls: type, test_name: str) -> CapabilityName | None:
    """The capability test ``test_name`` of ``cls`` needs: that of the contract defining it.

    A subclass overriding a contract test keeps its capability; a test a subclass adds
    itself needs none.
    """
    for klass in cls.__mro__:
        if test_name in vars(klass) and "capability" in vars(klass):
            cap: CapabilityName | None = vars(klass)["capability"]
            return cap
    return None


class ContractBase:
    """What every contract class shares: opening stores, capability checks, clean-up.

    Class attributes a subclass may set:
        registry: the driver registry to open stores with (default: the installed drivers).
        conformance: overrides the driver's own :class:`ConformanceSupport`.

    Within a test, :attr:`policy` is the fixture's policy, :attr:`clock` a
    :class:`FakeClock` every store opened with :meth:`open_store` uses, :attr:`spec`
    the driver under test (the policy's ``backend``) and :attr:`support` its support.
    """

    capability: ClassVar[CapabilityName | None] = None
    registry: ClassVar[Registry | None] = None
    conformance: ClassVar[ConformanceSupport | None] = None
    CHILD_TIMEOUT: ClassVar[float] = 120.0
    """Seconds :meth:`child_appends` waits for each child process."""

    policy: StorePolicy
    clock: FakeClock
    spec: DriverSpec
    support: ConformanceSupport
    _stores: list[Store]
    _refused: list[str]

    @pytest.fixture(autouse=True)
    def _agentstore_contract(
        self, request: pytest.FixtureRequest, agentstore_policy: StorePolicy
    ) -> Iterator[None]:
        if not isinstance(agentstore_policy, StorePolicy):
            pytest.fail(
                "the agentstore_policy fixture must return an agentstore.StorePolicy, "
                f"not {type(agentstore_policy).__name__}"
            )
        self.policy = agentstore_policy
        self.spec = (self.registry or default_registry()).get(agentstore_policy.backend)
        self.support = self.conformance or load_support(self.spec)
        cap = capability_of(type(self), request.function.__name__)
        if cap is not None:
            if cap not in self.spec.capabilities:
                pytest.skip(f"driver {self.spec.name!r} does not declare capability {cap!r}")
            routed = agentstore_policy.driver_for(cap)
            if routed != self.spec.name:
                pytest.skip(f"the policy routes capability {cap!r} to {routed!r}")
        self.clock = FakeClock()
        self._stores = []
        self._refused = []
        try:
            yield
        finally:
            for store in self._stores:
                store.close()

    # -- helpers for tests -------------------------------------------------------------

    def open_store(self) -> Store:
        """Open a store from the policy with the test's clock; closed after the test."""
        store = agentstore.open(self.policy, registry=self.registry, clock=self.clock)
        self._stores.append(store)
        return store

    def require_persistent(self) -> None:
        """Skip the test unless the driver declares that its data persists."""
        if not self.support.persistent:
            pytest.skip(
                f"driver {self.spec.name!r} declares it is not persistent "
                "(ConformanceSupport.persistent is False)"
            )

    def require_tamper_evident(self) -> None:
        """Skip the test when the driver declares its logs are not tamper-evident."""
        if not self.spec.tamper_evident:
            pytest.skip(
                f"driver {self.spec.name!r} declares that verify() may miss a truncated log "
                "(DriverSpec tamper_evident=False)"
            )

    def tamper(self, store: Store, stream: str, writer: str, seq: int, entry: Entry | None) -> None:
        """Overwrite (``entry``) or delete (None) the stored entry at ``seq``, unchecked.

        Uses ``ConformanceSupport.tamper``; a driver on the key-value substrate needs none
        (the substrate's log store supplies it). A ``tamper()`` method of another driver's
        log store found without it is used with a DeprecationWarning (the hook
        :func:`tamper_via_log_store` names it). Without either, or when it raises
        NotImplementedError, the test fails for a
        persistent driver that declares tamper-evident logs (it must give the suite a way
        to check that claim) and skips otherwise. An edit the database refuses
        (:class:`TamperRefused`) is recorded in ``self._refused``: the chain must then
        verify unchanged.
        """
        from agentstore.kv import KvLogStore

        hook: Callable[[], object] | None = None
        holder = log_store_of(store, stream, writer)
        if self.support.tamper is not None:
            hook = functools.partial(self.support.tamper, store, stream, writer, seq, entry)
        elif isinstance(holder, KvLogStore):  # the key-value substrate supplies its own hook
            hook = functools.partial(tamper_via_log_store, store, stream, writer, seq, entry)
        elif callable(getattr(holder, "tamper", None)):
            warnings.warn(
                f"driver {self.spec.name!r}: the conformance suite found a tamper() method on "
                "its log store without ConformanceSupport.tamper; say so with "
                "ConformanceSupport(tamper=agentstore.conformance.tamper_via_log_store)",
                DeprecationWarning,
                stacklevel=2,
            )
            hook = functools.partial(tamper_via_log_store, store, stream, writer, seq, entry)
        if hook is None:
            self._cannot_tamper("it offers no tamper hook (ConformanceSupport.tamper)")
            return
        try:
            hook()
        except NotImplementedError as exc:
            self._cannot_tamper(f"its tamper hook cannot reach this chain ({exc})")
        except TamperRefused as exc:
            self._refused.append(str(exc))

    def _cannot_tamper(self, why: str) -> None:
        name = self.spec.name
        if self.support.persistent and self.spec.tamper_evident:
            pytest.fail(
                f"driver {name!r} keeps its data and declares tamper-evident logs "
                f"(DriverSpec tamper_evident, True by default), but {why}: the tamper tests "
                "cannot check that verify() catches an edited or truncated log. Give its "
                "ConformanceSupport a tamper hook (tamper=..., see "
                "agentstore.conformance.ConformanceSupport), or, if verify() cannot catch a "
                "truncated log, declare DriverSpec(tamper_evident=False)",
                pytrace=False,
            )
        pytest.skip(f"driver {name!r}: {why}")

    def require_cross_process(self) -> None:
        """Skip unless separate processes may share the driver's storage and the suite can
        open it from one (the driver is installed, not registered in-process)."""
        if not self.spec.cross_process:
            pytest.skip(
                f"driver {self.spec.name!r} does not declare that separate processes may share "
                "its storage (DriverSpec cross_process=True)"
            )
        if self.spec.distribution is None:
            pytest.skip("a driver registered in-process cannot be opened by another process")

    def child_appends(self, stream: str, writer: str, processes: int, each: int) -> None:
        """Append from ``processes`` separate Python processes at once, ``each`` per process.

        Payloads are ``b"p<process>-<i>"``. Fails with the children's output if one fails.
        Skips unless the driver declares ``cross_process`` on its DriverSpec.
        """
        script = (
            "stream, writer, tag, each = ARGS\n"
            "log = store.log(stream, writer=writer)\n"
            "for i in range(int(each)):\n"
            "    log.append(f'p{tag}-{i}'.encode())\n"
        )
        self.run_children(script, [[stream, writer, str(p), str(each)] for p in range(processes)])

    def run_children(self, body: str, args: list[list[str]]) -> list[str]:
        """Run ``body`` in one separate Python process per item of ``args``, all at once,
        and return each one's output (stdout and stderr), in order.

        ``body`` runs with ``store`` (the policy's store, opened), ``agentstore`` and
        ``ARGS`` (that child's list of strings) defined. Fails with the output of a child
        that fails. Skips unless the driver declares ``cross_process`` on its DriverSpec.
        """
        self.require_cross_process()
        script = (
            "import pathlib, sys, agentstore\n"
            "policy_file, source = sys.argv[1:3]\n"
            "ARGS = sys.argv[3:]\n"
            "text = pathlib.Path(policy_file).read_text(encoding='utf-8')\n"
            "policy = agentstore.StorePolicy.loads(text, source=source or None)\n"
            "with agentstore.open(policy) as store:\n"
            + "".join(f"    {line}\n" for line in body.splitlines())
        )
        # The policy may hold secrets: hand it over in a file only its owner can read
        # (mkstemp makes it 0600), never on argv, where `ps` shows it to every user.
        fd, policy_file = tempfile.mkstemp(prefix="agentstore-policy-", suffix=".toml")
        children: list[subprocess.Popen[bytes]] = []
        outputs: list[str] = []
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.policy.dumps())
            common = [policy_file, self.policy.source or ""]
            for child_args in args:
                children.append(
                    subprocess.Popen(
                        [sys.executable, "-c", script, *common, *child_args],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        env=os.environ.copy(),
                    )
                )
            for child in children:
                out, _ = child.communicate(timeout=self.CHILD_TIMEOUT)
                text = out.decode(errors="replace")
                assert child.returncode == 0, text
                outputs.append(text)
        finally:
            for child in children:  # after a timeout or failure, leave none running
                if child.poll() is None:
                    child.kill()
                child.communicate()
            os.unlink(policy_file)
        return outputs


# -- causal primitives ----------------------------------------------------------------------


__all__ = [
    "BAD_PAYLOADS",
    "HELLO_WORLD_HASH",
    "SECOND_HASH",
    "THREADS",
    "ContractBase",
    "b3",
    "capability_of",
    "run_threads",
]
