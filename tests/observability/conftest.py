"""Observability fixtures: reading a metric sample (tests compare before/after: the registry lives as
long as the process), an in-memory span exporter, and a staff user's DRF token."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from observability import metrics, tracing
from tests.audio.conftest import (  # noqa: F401  (the voice fixtures: real speech, packaged models)
    asr_model_dir,
    piper_voice_path,
    question_wav,
    speech_dir,
    voice_bot,
)
from tests.integrations.conftest import allow_loopback, mock_api  # noqa: F401


def sample(name: str, **labels: str) -> float:
    """The current value of one sample (0 when the series does not exist yet)."""
    return metrics.registry().get_sample_value(name, labels) or 0.0


@pytest.fixture
def spans():
    """Tracing on, into the SDK's in-memory exporter; off again after the test."""
    exporter = InMemorySpanExporter()
    tracing.configure(exporter)
    yield exporter
    tracing.disable()


@pytest.fixture
def staff_token(staff_user) -> str:
    from tests.user_data import api_token

    return api_token(staff_user)
