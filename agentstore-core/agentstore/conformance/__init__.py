"""The agentstore conformance suite: the contract of DESIGN.md as pytest tests.

It needs pytest, an optional dependency of agentstore-core::

    pip install agentstore-core[conformance]

Every driver, first-party or not, proves it keeps the contract by passing this suite. It
ships in ``agentstore-core`` as a pytest plugin (entry point ``pytest11``), which does
nothing at all in a pytest run that does not ask for it: the entry point is a shim that
adds the options and imports nothing of agentstore until ``--agentstore-driver`` is given.
There are two ways to use it.

1. By name, against any installed driver
----------------------------------------

.. code-block:: sh

    pytest --agentstore-driver memory
    pytest --agentstore-driver mydriver --agentstore-config conformance.toml

This collects the suite module from the installed package (in any folder, whatever the
project's ``testpaths``), one test class per capability, and runs every contract test for
each capability the driver declares; tests of a capability it does not declare are skipped
with that reason. ``--agentstore-config FILE`` is a policy file: its ``[store.<driver>]``
table configures the driver (``{ env = "NAME" }`` references work as usual) and its
``[store.capabilities]`` routes the capabilities the driver lacks (by default they go to
the ``memory`` driver, so the store can open). ``-k``, ``-x`` and the other pytest options
work as usual.

Each test gets a fresh, empty store. A driver says how in its
:class:`ConformanceSupport`, named by a dotted string on its spec (a string, so driver
discovery imports nothing)::

    # mydriver/plugin.py
    register(DriverSpec(name="mydriver", open=..., config_model=MyConfig,
                        conformance="mydriver.conformance:SUPPORT"))

    # mydriver/conformance.py (imported by the conformance suite only)
    from agentstore.conformance import ConformanceSupport

    def fresh(section, tmp_path):
        yield {**section, "path": str(tmp_path / "store.db")}   # a new file per test
        # code after the yield runs when the test ends (drop a schema, ...)

    SUPPORT = ConformanceSupport(fresh_section=fresh)

``fresh_section`` gets the section as written (env references unresolved) and the
test's ``tmp_path``; it returns or yields the section of an empty store. A server-backed
driver makes a new schema or database there and drops it after the ``yield``. Without a
``fresh_section`` every test opens the section unchanged, which suits only a driver whose
every ``open`` starts empty, like ``memory``: such a driver declares
``persistent=False`` (a reopened store does not see earlier writes; the persistence tests
are then skipped). A persistent driver (the default) without ``fresh_section`` is refused
by the by-name run, since its tests would share one store and leave data behind. And
``tamper`` lets the tamper-detection tests edit a stored chain (see
:class:`ConformanceSupport`); a driver whose log store has a ``tamper()`` method (as
``MemoryLogStore`` and ``SqlLogStore`` do) passes ``tamper=tamper_via_log_store``. A
persistent driver that gives none
fails every tamper test, with a message saying what to supply, unless it declares its
logs are not tamper-evident (below).

What a driver guarantees is declared on its ``DriverSpec``, where ``agentstore drivers``
(and ``--json``) shows it, and the suite holds the driver to it:

``tamper_evident`` (default True)
    ``WriterLog.verify`` catches every edit, truncation included: a log whose last
    entries, or all of them, were deleted fails ``verify()``. That needs a head recorded
    apart from the entries and moved in the same transaction as each append; a driver
    that keeps one returns it from ``WriterLogStore._recorded_head`` and the default
    ``_verify`` checks the entries against it (without it, the default checks the chain
    only). A driver that cannot keep this declares ``tamper_evident=False``; the
    truncation tests then skip, saying so.
``cross_process`` (default False)
    Stores opened by separate processes on the same storage share it safely: appends,
    bumps and increments serialize across processes and nothing is lost. The
    multi-process tests (children appending to one log at once) run only when this is
    declared, and skip with that reason otherwise.

.. code-block:: python

    register(DriverSpec(name="mydriver", open=..., conformance="mydriver.conformance:SUPPORT",
                        cross_process=True))

2. Subclassed, in the driver's own test suite
---------------------------------------------

.. code-block:: python

    # tests/test_conformance.py in the driver's repository
    import pytest
    from agentstore import StorePolicy
    from agentstore.conformance import AllContracts

    class TestMyDriver(AllContracts):
        @pytest.fixture
        def agentstore_policy(self, tmp_path):
            return StorePolicy("mydriver", sections={"mydriver": {"path": str(tmp_path / "db")}})

``agentstore_policy`` is the one fixture to supply: function-scoped, returning a
:class:`~agentstore.StorePolicy` for a fresh, empty store (tests open it, some twice to
check persistence or sharing between two open stores). It may live in the class, the test
module or a ``conftest.py``. Pick single capabilities with ``GenerationContract``,
``WriterLogContract``, ``DoorbellContract``, ``PolicyStoreContract``,
``AuditSinkContract``, ``SessionStoreContract``, ``CredentialStoreContract``,
``RateLimitContract``, ``RateLimitHitContract`` and ``LifecycleContract``, and for an
operator's listings, session TTLs and pruning ``PolicyListingContract``,
``SessionManagementContract``, ``CredentialListingContract`` and
``LifecycleManagementContract`` (their tests skip, with the reason, where the driver raises
``Unsupported``); each declares the capability it needs and skips, with the reason, when
the driver (the policy's ``backend``) does not declare it.
``StoreContract`` (the store's lifetime: nothing works after ``close``) runs for every
driver.
The classes are never collected on their own (their names do not start with ``Test``).

A subclass may set ``conformance = ConformanceSupport(...)`` to override what the driver's
spec names, ``registry = some_registry`` for a driver registered in-process on another
:class:`~agentstore.Registry`, and may override any single test by defining a method of
the same name. Inside a test, ``self.open_store()`` opens the policy with
``self.clock``, a :class:`FakeClock` (``self.clock.advance(10)``), and closes it after
the test.
"""

from agentstore.conformance.contracts import (
    CONTRACTS,
    HELLO_WORLD_HASH,
    SECOND_HASH,
    AllContracts,
    AuditSinkContract,
    ContractBase,
    CredentialListingContract,
    CredentialStoreContract,
    DoorbellContract,
    GenerationContract,
    LifecycleContract,
    LifecycleManagementContract,
    PolicyListingContract,
    PolicyStoreContract,
    RateLimitContract,
    RateLimitHitContract,
    SessionManagementContract,
    SessionStoreContract,
    StoreContract,
    WriterLogContract,
    run_threads,
)
from agentstore.conformance.support import (
    EPOCH,
    ConformanceSupport,
    FakeClock,
    TamperRefused,
    load_support,
    tamper_via_log_store,
)

__all__ = [
    "CONTRACTS",
    "EPOCH",
    "HELLO_WORLD_HASH",
    "SECOND_HASH",
    "AllContracts",
    "AuditSinkContract",
    "ConformanceSupport",
    "ContractBase",
    "CredentialListingContract",
    "CredentialStoreContract",
    "DoorbellContract",
    "FakeClock",
    "GenerationContract",
    "LifecycleContract",
    "LifecycleManagementContract",
    "PolicyListingContract",
    "PolicyStoreContract",
    "RateLimitContract",
    "RateLimitHitContract",
    "SessionManagementContract",
    "SessionStoreContract",
    "StoreContract",
    "TamperRefused",
    "WriterLogContract",
    "load_support",
    "run_threads",
    "tamper_via_log_store",
]
