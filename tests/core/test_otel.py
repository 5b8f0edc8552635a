"""OpenTelemetry, opt-in: ``agentstore.instrument()`` traces open, every log and governance
call after the database semantic conventions and counts appends, verified entries and
errors; without it nothing of OpenTelemetry is imported and no method is wrapped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import agentstore
import agentstore.otel
import agentstore.store
import pytest
from agentstore import StorePolicy
from logged import exercise
from opentelemetry.trace import SpanKind, StatusCode
from otel_kit import Telemetry, assert_no_secret_in, span_texts, telemetry

__all__ = ["telemetry"]  # the fixture, used by name below

UNTOUCHED = """
import sys
import agentstore
policy = agentstore.StorePolicy("sqlite", sections={"sqlite": {"path": sys.argv[1]}})
with agentstore.open(policy) as store:
    store.log("s", writer="w").append(b"x")
    store.log("s", writer="w").verify()
    store.credentials.put_secret("k", b"v")
agentstore.uninstrument()  # a no-op that imports nothing
otel = ("opentelemetry", "agentstore.otel")
print(sorted(m for m in sys.modules if m.split(".")[0] == otel[0] or m == otel[1]))
"""


def test_without_instrument_nothing_of_opentelemetry_is_imported(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", UNTOUCHED, str(tmp_path / "s.db")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_without_opentelemetry_instrument_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "import agentstore\n"
        "try:\n    agentstore.instrument()\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert 'pip install "agentstore-core[otel]"' in proc.stdout


def _current() -> dict[tuple[type, str], object]:
    return {(cls, name): cls.__dict__[name] for cls, name in agentstore.otel.TRACED}


def test_uninstrumented_methods_are_the_originals_and_come_back() -> None:
    before = _current()
    modules = {f.__module__ for f in before.values()}  # type: ignore[attr-defined]
    assert modules == {
        "agentstore.handles",
        "agentstore.capabilities",
        "agentstore.governance",
        "agentstore.ratelimit",
    }
    assert agentstore.store.traced_open is None
    assert not agentstore.otel.is_instrumented()
    agentstore.instrument()
    agentstore.instrument()  # again: replaces, never wraps twice
    try:
        during = _current()
        assert all(during[k] is not before[k] for k in before)
        assert all(getattr(f, "__wrapped__", None) is before[k] for k, f in during.items())
        assert agentstore.store.traced_open is not None
        assert agentstore.otel.is_instrumented()
    finally:
        agentstore.uninstrument()
    assert _current() == before
    assert agentstore.store.traced_open is None
    agentstore.uninstrument()  # idempotent


EXPECTED = {
    "open agentstore",
    "bump generations",
    "current generations",
    "advance_to generations",
    "append logs",
    "append_many logs",
    "head logs",
    "verify logs",
    "put policies",
    "get policies",
    "invalidate policies",
    "emit audit",
    "verify audit",
    "save sessions",
    "load sessions",
    "delete sessions",
    "put_secret credentials",
    "get_secret credentials",
    "delete_secret credentials",
    "increment rate_limits",
    "current rate_limits",
    "reset rate_limits",
    "register lifecycle",
    "heartbeat lifecycle",
    "info lifecycle",
    "deregister lifecycle",
    "live lifecycle",
}


@pytest.mark.parametrize("driver", ["memory", "sqlite"])
def test_every_call_has_its_span_and_metrics(
    driver: str, telemetry: Telemetry, tmp_path: Path
) -> None:
    sections = {"sqlite": {"path": str(tmp_path / "t.db")}} if driver == "sqlite" else {}
    with agentstore.open(StorePolicy(driver, sections=sections)) as store:
        exercise(store)
        store.lifecycle.live(60.0)
    spans = telemetry.finished()
    assert {s.name for s in spans} >= EXPECTED
    for span in spans:
        attrs = dict(span.attributes or {})
        assert span.kind is SpanKind.CLIENT
        assert attrs["db.system"] == driver
        assert attrs["db.system.name"] == driver
        assert span.name == f"{attrs['db.operation.name']} {attrs['db.collection.name']}"
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "agentstore"
    append = next(s for s in spans if s.name == "append logs")
    assert append.attributes is not None
    assert append.attributes["agentstore.stream"] == "s"
    assert append.attributes["agentstore.writer"] == "w"
    batch = next(s for s in spans if s.name == "append_many logs")
    assert batch.attributes is not None
    assert batch.attributes["db.operation.batch.size"] == 2
    failed = [s for s in spans if s.status.status_code is StatusCode.ERROR]
    # advance_to backwards, get_secret of a deleted secret
    assert {(s.name, s.status.description) for s in failed} == {
        ("advance_to generations", "NonMonotonicGeneration"),
        ("get_secret credentials", "NotFound"),
    }
    assert all(dict(s.attributes or {})["error.type"] for s in failed)
    assert not any(s.events for s in spans)  # no exception message recorded
    # a secret's name and a rate-limit key are not attributes either
    assert_no_secret_in(span_texts(spans), "api-key", "ip:10.0.0.1")

    appends = {
        (a["db.collection.name"], a["db.operation.name"]): v
        for a, v in telemetry.points("agentstore.appends")
    }
    assert appends == {("logs", "append"): 1, ("logs", "append_many"): 2, ("audit", "emit"): 1}
    verified = {
        a["db.collection.name"]: v for a, v in telemetry.points("agentstore.verified_entries")
    }
    assert verified == {"logs": 3, "audit": 1}
    errors = {
        (a["db.operation.name"], a["error.type"]): v
        for a, v in telemetry.points("agentstore.errors")
    }
    assert errors == {("advance_to", "NonMonotonicGeneration"): 1, ("get_secret", "NotFound"): 1}
    durations = telemetry.points("db.client.operation.duration")
    assert sum(count for _, count in durations) == len(spans)
    assert all(a["db.system"] == driver for a, _ in durations)


def test_a_failed_open_is_an_error_span(telemetry: Telemetry, tmp_path: Path) -> None:
    policy = StorePolicy("sqlite", sections={"sqlite": {"path": str(tmp_path / "no" / "x.db")}})
    with pytest.raises(agentstore.BackendUnavailable):
        agentstore.open(policy)
    (span,) = telemetry.finished()
    assert span.name == "open agentstore"
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "BackendUnavailable"
    assert ("open", "BackendUnavailable") in {
        (a["db.operation.name"], a["error.type"]) for a, _ in telemetry.points("agentstore.errors")
    }


def test_stores_opened_before_instrument_are_traced(tmp_path: Path) -> None:
    with agentstore.open(StorePolicy("memory")) as store:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        agentstore.instrument(tracer_provider=provider)
        try:
            store.log("s", writer="w").append(b"x")
        finally:
            agentstore.uninstrument()
        store.log("s", writer="w").append(b"y")  # after uninstrument: no span
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {})["db.system"] == "memory"
