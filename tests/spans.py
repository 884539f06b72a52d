"""An OpenTelemetry SDK tracer provider that keeps every finished span in memory, for tests."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

__all__ = ["Spans", "ids"]


def ids(span: ReadableSpan) -> tuple[int, int]:
    """The trace id and span id of a finished span."""
    context = span.get_span_context()
    assert context is not None
    return context.trace_id, context.span_id


class Spans:
    """A real SDK provider, exporting each span to memory the moment it ends."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    @property
    def tracer(self) -> Tracer:
        """A tracer for the test's own (caller) spans."""
        return self.provider.get_tracer("tests")

    def finished(self) -> Sequence[ReadableSpan]:
        return self.exporter.get_finished_spans()

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        (span,) = self.named(name)
        return span

    def items_by_caller(self) -> dict[str, ReadableSpan]:
        """Each ``gristmill.item`` span, keyed by the name of its parent (the caller's span)."""
        names = {ids(span)[1]: span.name for span in self.finished()}
        return {
            names[item.parent.span_id]: item
            for item in self.named("gristmill.item")
            if item.parent is not None
        }

    def close(self) -> None:
        self.provider.shutdown()
