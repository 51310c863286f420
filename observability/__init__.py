"""Observability: Prometheus metrics, OpenTelemetry traces and the per-turn log line.

A leaf app: it imports no app of the project, so every app may call it. Hooks in the other apps are
one or two lines each and go through `observability.observe` (the turn's context, spans and metrics
together); `metrics`, `tracing` and `logs` are the parts it is made of. See docs/operations.md.
"""
