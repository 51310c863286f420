"""Events a turn yields. Every transport (Studio socket, public socket, REST NDJSON, the mic loop)
translates these to its own wire format and nothing else; see `to_wire` for the reference's JSON shapes."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Status:
    stage: str  # init | recording | asr | llm | tts | idle


@dataclass(frozen=True, slots=True)
class ConversationStarted:
    conversation_id: str


@dataclass(frozen=True, slots=True)
class Transcript:
    """What ASR heard (voice turns only)."""

    text: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    delta: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments_json: str
    call_id: str = ""


@dataclass(frozen=True, slots=True)
class ToolResult:
    name: str
    result: Any
    call_id: str = ""
    ok: bool = True


@dataclass(frozen=True, slots=True)
class Interim:
    kind: str  # wait | progress
    text: str


@dataclass(frozen=True, slots=True)
class Audio:
    """One synthesised chunk: a complete RIFF/WAV file, and the text it says (so a transport that
    tracks what was heard, such as a phone line's marks, needs no copy of the chunking rule)."""

    wav: bytes
    sample_rate: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class Metrics:
    timings_ms: dict[str, int]


@dataclass(frozen=True, slots=True)
class Done:
    text: str
    metrics: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    message_id: str = ""  # the stored assistant message ("" when nothing was stored)


@dataclass(frozen=True, slots=True)
class Error:
    message: str
    code: str = "error"


Event = (
    Status
    | ConversationStarted
    | Transcript
    | TextDelta
    | ToolCall
    | ToolResult
    | Interim
    | Audio
    | Metrics
    | Done
    | Error
)


def to_wire(event: Event) -> dict[str, Any]:
    """The reference's JSON event shape (without req_id, which the transport adds)."""
    match event:
        case Status(stage=stage):
            return {"type": "status", "stage": stage}
        case ConversationStarted(conversation_id=cid):
            return {"type": "conversation", "conversation_id": cid, "id": cid}
        case Transcript(text=text):
            return {"type": "asr", "text": text}
        case TextDelta(delta=delta):
            return {"type": "text_delta", "delta": delta}
        case ToolCall(name=name, arguments_json=arguments_json, call_id=call_id):
            return {"type": "tool_call", "name": name, "arguments_json": arguments_json, "call_id": call_id}
        case ToolResult(name=name, result=result, call_id=call_id, ok=ok):
            return {"type": "tool_result", "name": name, "result": result, "call_id": call_id, "ok": ok}
        case Interim(kind=kind, text=text):
            return {"type": "interim", "kind": kind, "text": text}
        case Audio(wav=wav, sample_rate=sr, text=_):
            return {"type": "audio_wav", "wav_base64": base64.b64encode(wav).decode("ascii"), "sr": sr}
        case Metrics(timings_ms=timings):
            return {"type": "metrics", "timings_ms": dict(timings)}
        case Done(text=text, metrics=metrics, interrupted=interrupted, message_id=_):
            wire: dict[str, Any] = {"type": "done", "text": text, "metrics": dict(metrics)}
            if interrupted:
                wire["interrupted"] = True
            return wire
        case Error(message=message, code=code):
            return {"type": "error", "error": message, "code": code}
    raise TypeError(f"not an engine event: {event!r}")
