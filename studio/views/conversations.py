"""Studio pages for stored conversations: a filtered, paginated list, a transcript, and a JSON export."""

from __future__ import annotations

import json
from typing import Any

from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from conversations.models import Conversation, Message
from conversations.serializers import ConversationOutputSerializer, MessageOutputSerializer
from conversations.studio_forms import ConversationFilterForm, conversation_list_queryset
from studio.formatting import fmt_duration, fmt_ms, latency_parts
from studio.permissions import staff_required
from telephony.services import call_recording_of

MESSAGE_LATENCIES = {
    "asr_ms": "ASR",
    "llm_ttfb_ms": "LLM 1st",
    "llm_total_ms": "LLM",
    "tts_first_audio_ms": "TTS 1st",
    "total_ms": "total",
}
CONVERSATION_LATENCIES = {
    "last_asr_ms": "ASR",
    "last_llm_ttfb_ms": "LLM 1st",
    "last_llm_total_ms": "LLM",
    "last_tts_first_audio_ms": "TTS 1st",
    "last_total_ms": "total",
}


@staff_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    data = None
    if request.GET:
        data = request.GET.copy()
        data.setdefault("page_size", "50")  # so the select shows the size actually used
    form = ConversationFilterForm(data)
    queryset = conversation_list_queryset()
    if form.is_bound:
        form.is_valid()
        queryset = form.filter(queryset)
    paginator = Paginator(queryset, form.page_size_value() if form.is_bound else 50)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)  # one query; the rows carry their annotations
    for row in page.object_list:
        row.duration = fmt_duration(row.first_message_at, row.last_message_at)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    template = "studio/conversations/_results.html" if request.htmx else "studio/conversations/list.html"
    return render(request, template, context)


def _message_view(message: Message) -> dict[str, Any]:
    """What the transcript shows for one message (tool rows with their JSON pretty-printed)."""
    payload = message.tool_payload
    metrics = latency_parts(message, MESSAGE_LATENCIES)
    tokens = []
    if message.input_tokens_est is not None or message.output_tokens_est is not None:
        tokens.append(f"tok in {message.input_tokens_est or 0} • out {message.output_tokens_est or 0}")
    if message.cost_usd_est is not None:
        tokens.append(f"cost ${message.cost_usd_est:.6f}")
    kind = message.tool_kind or ("call" if payload and "arguments" in payload else "result" if payload else "")
    return {
        "message": message,
        "kind": kind,
        "tool_name": message.tool_name or (payload or {}).get("tool", ""),
        "pretty": json.dumps(payload, indent=2, ensure_ascii=False) if payload is not None else message.content,
        "metrics_line": " • ".join(tokens + [f"{label} {value}" for label, value in metrics]),
    }


@staff_required
def conversation_detail(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.select_related("bot", "client_key"), pk=conversation_id)
    messages = [_message_view(m) for m in conversation.messages.order_by("created_at")]
    context = {
        "conversation": conversation,
        "messages_view": messages,
        "metadata_pretty": json.dumps(conversation.metadata, indent=2, ensure_ascii=False, sort_keys=True),
        "latency": latency_parts(conversation, CONVERSATION_LATENCIES),
        "fmt_total": fmt_ms(conversation.last_total_ms),
        "call_recording": call_recording_of(conversation) is not None,
    }
    return render(request, "studio/conversations/detail.html", context)


@staff_required
def call_recording(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    """A phone call's recording (caller left, bot right; staff only, no public URL). The file is found
    by the conversation's id, never by a name in its metadata (which the model can write)."""
    conversation = get_object_or_404(Conversation, pk=conversation_id)
    name = call_recording_of(conversation)
    if name is None:
        raise Http404("This conversation has no call recording")
    return _private_wav(lambda: default_storage.open(name, "rb"), gone="The recording is gone")


@staff_required
def message_audio(request: HttpRequest, conversation_id: Any, message_id: Any) -> HttpResponse:
    """The stored audio of one voice-turn message (staff only; the files have no public URL)."""
    message = get_object_or_404(Message, pk=message_id, conversation_id=conversation_id)
    if not message.audio:
        raise Http404("No audio stored for this message")
    return _private_wav(lambda: message.audio.open("rb"), gone="The audio file is gone")


def _private_wav(open_file, *, gone: str) -> FileResponse:
    """A stored WAV for staff only: never cached, 404 when the file went missing."""
    try:
        handle = open_file()
    except FileNotFoundError:
        raise Http404(gone) from None
    response = FileResponse(handle, content_type="audio/wav")
    response["Cache-Control"] = "private, no-store"
    return response


def transcript_export(conversation: Conversation) -> dict[str, Any]:
    """The transcript in the REST API's detail shape (its serializers), without the bot settings."""
    messages = conversation.messages.order_by("created_at", "id")
    return {
        "conversation": ConversationOutputSerializer(conversation).data,
        "messages": MessageOutputSerializer(messages, many=True).data,
    }


@staff_required
def conversation_export(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.select_related("bot"), pk=conversation_id)
    response = JsonResponse(transcript_export(conversation), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="conversation-{conversation.id}.json"'
    return response
