"""OpenTelemetry traces, off unless the standard OTEL_* variables switch them on.

On when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`) or an OTLP endpoint is set
(`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, meaning `otlp`); off when
`OTEL_SDK_DISABLED=true` or the exporter is `none`. The OTLP exporter is an optional package
(`opentelemetry-exporter-otlp-proto-http`); the SDK reads the rest of its standard variables itself
(OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_*, the exporter's).

Spans are started with an explicit parent and never made "current": the turn's spans live across
`yield`s of async generators, where attaching and detaching a context would go wrong. When tracing is
off every helper returns at once (`start_span` gives None), so the hooks cost next to nothing.

Attributes are ids, names of things, sizes, timings and status codes: never message text, tool
arguments, URLs with their paths or queries, headers or keys.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "voicebot-studio"
_TRUE = {"1", "true", "yes", "on"}

_tracer: Any = None  # an opentelemetry Tracer when tracing is on
_provider: Any = None


def enabled() -> bool:
    return _tracer is not None


def exporter_names(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The span exporters the environment asks for ([] means tracing stays off)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return []
    raw = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not raw and (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        raw = "otlp"
    return [name for name in (n.strip() for n in raw.split(",")) if name and name != "none"]


def _exporter(name: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            try:
                from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
            except ImportError:
                logger.warning(
                    "OTEL_TRACES_EXPORTER=otlp but no OTLP exporter is installed "
                    "(pip install opentelemetry-exporter-otlp-proto-http); traces are off"
                )
                return None
        return OTLPSpanExporter()
    logger.warning("unknown OTEL_TRACES_EXPORTER %r ignored (use otlp, console or none)", name)
    return None


def configure_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """Start tracing as the OTEL_* variables say; returns whether it is on."""
    exporters = [e for e in (_exporter(name) for name in exporter_names(environ)) if e is not None]
    if not exporters:
        disable()
        return False
    configure(*exporters, batch=True)
    from opentelemetry import trace

    try:
        trace.set_tracer_provider(_provider)  # once per process; later calls only warn
    except Exception:  # pragma: no cover - the API logs instead of raising
        pass
    return True


def configure(*exporters: Any, batch: bool = False) -> None:
    """Trace into `exporters` (tests pass the SDK's InMemorySpanExporter, with batch=False)."""
    global _tracer, _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    disable()
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": DEFAULT_SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(attributes))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    _provider = provider
    _tracer = provider.get_tracer("voicebot")


def disable() -> None:
    global _tracer, _provider
    provider, _tracer, _provider = _provider, None, None
    if provider is not None:
        provider.shutdown()


def start_span(
    name: str, parent: Any = None, attributes: Mapping[str, Any] | None = None, *, start_time: int | None = None
) -> Any:
    """A started span (child of `parent` when given), or None when tracing is off."""
    tracer = _tracer
    if tracer is None:
        return None
    context = None
    if parent is not None:
        from opentelemetry import trace

        context = trace.set_span_in_context(parent)
    return tracer.start_span(name, context=context, attributes=_clean(attributes), start_time=start_time)


def end_span(span: Any, *, error: str | None = None, attributes: Mapping[str, Any] | None = None) -> None:
    """End `span` (None is fine), marking it failed with a short error *code* (never a message)."""
    if span is None:
        return
    if attributes:
        span.set_attributes(_clean(attributes))
    if error:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR))
    span.end()


def set_attributes(span: Any, attributes: Mapping[str, Any]) -> None:
    if span is not None:
        span.set_attributes(_clean(attributes))


def _clean(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (attributes or {}).items() if v is not None}
