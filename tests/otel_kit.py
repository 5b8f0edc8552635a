"""OpenTelemetry's SDK wired to in-memory readers, and checks on what it captured: used by
the telemetry tests of each driver."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import agentstore
import pytest
from logged import NEVER_LOGGED
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """``(attributes, value)`` of each data point of metric ``name`` (count, for a
        histogram)."""
        found = []
        data = self.metrics.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == name:
                        for p in m.data.data_points:
                            value = getattr(p, "value", None)
                            found.append(
                                (dict(p.attributes or {}), value if value is not None else p.count)
                            )
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    """agentstore instrumented into an SDK whose spans and metrics stay in memory."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    agentstore.instrument(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    try:
        yield Telemetry(exporter, reader)
    finally:
        agentstore.uninstrument()


def span_texts(spans: list[ReadableSpan]) -> list[str]:
    """Everything an exporter could send of each span."""
    texts: list[str] = []
    for span in spans:
        texts += [span.name, repr(dict(span.attributes or {})), str(span.status.description)]
        for event in span.events:
            texts += [event.name, repr(dict(event.attributes or {}))]
    return texts


def assert_no_secret_in(texts: list[str], *secrets: str | bytes) -> None:
    banned: list[str] = []
    for s in (*NEVER_LOGGED, *secrets):
        raw = s if isinstance(s, bytes) else s.encode()
        banned += [raw.decode(), repr(raw)[2:-1]]
    for text in texts:
        for b in banned:
            assert b not in text, f"telemetry shows {b!r}: {text!r}"


__all__ = ["Telemetry", "assert_no_secret_in", "span_texts", "telemetry"]
